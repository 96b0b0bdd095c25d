'use strict';
/**
 * One Lambda execution environment: a worker thread with its own module instances, running one
 * invocation at a time, as a Lambda container does. Module-level state (configuration, SDK clients, the
 * logger's keys) is therefore per container, never shared by concurrent invocations.
 */
const { parentPort, workerData } = require('node:worker_threads');

// CloudWatch Logs extracts metrics from the EMF lines a function prints (Powertools Metrics writes each as one
// JSON line on stdout). Here they go to the local IoT Core instead of the terminal, on the same port as the
// result and before it, so that an invocation's metrics are collected by the time its caller has the answer.
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  if (text.includes('"CloudWatchMetrics"')) {
    const lines = text.split('\n').filter((line) => line.trim());
    const documents = [];
    for (const line of lines) {
      try {
        const document = JSON.parse(line);
        if (document && document._aws && Array.isArray(document._aws.CloudWatchMetrics)) {
          documents.push(document);
          continue;
        }
      } catch {
        // not JSON: printed as it is
      }
      return write(chunk, ...rest);
    }
    for (const document of documents) parentPort.postMessage({ type: 'emf', document });
    const callback = rest.find((argument) => typeof argument === 'function');
    if (callback) callback();
    return true;
  }
  return write(chunk, ...rest);
};

let handler;
try {
  // TypeScript sources load through tsx; a built bundle (.js) loads as Lambda loads it.
  if (!/\.c?js$/.test(workerData.modulePath)) require('tsx/cjs/api').register();
  const mod = require(workerData.modulePath);
  handler = mod[workerData.exportName];
  if (typeof handler !== 'function') throw new Error(`${workerData.modulePath} does not export a function ${workerData.exportName}`);
  parentPort.postMessage({ type: 'ready' });
} catch (error) {
  parentPort.postMessage({ type: 'init-error', error: { name: error.name, message: error.message, stack: error.stack } });
}

parentPort.on('message', async ({ id, event, context }) => {
  const ctx = { ...context, getRemainingTimeInMillis: () => Math.max(0, context.deadline - Date.now()) };
  try {
    const result = await handler(event, ctx);
    parentPort.postMessage({ type: 'result', id, result: result === undefined ? null : result });
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    parentPort.postMessage({ type: 'error', id, error: { name: e.name, message: e.message } });
  }
});
