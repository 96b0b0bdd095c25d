export function consoleUrls(consoleUrl: string | undefined, hasConsoleDistribution: boolean): unknown[];
export function mfaSettings(consoleMfa: string | undefined): { MfaConfiguration: string; EnabledMfas: string[] };
export function domainPrefix(given: string | undefined, stack: { service: string; stage: string }): unknown;
export function operatorResources(stack: unknown, template: { hasConsoleDistribution: boolean }): unknown;
export const GROUPS: Record<'technicians' | 'operators', string>;
export const LOCAL_CONSOLE_URL: string;
