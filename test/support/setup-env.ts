// Tests never reach AWS: dummy credentials, a fixed region, and no SDK or Powertools noise.
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= '123456789012';
process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_DEV ??= 'false';
// Handlers loaded in the test process would print their EMF lines into jest's output; the local IoT Core's
// containers turn them on again and collect them (local/deploy-stack.ts).
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
