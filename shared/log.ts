/** The logging surface workflows use (Powertools' Logger satisfies it; tests pass a silent or capturing one). */
export type LogAttributes = Record<string, unknown>;

export interface Log {
  debug(message: string, ...extra: LogAttributes[]): void;
  info(message: string, ...extra: LogAttributes[]): void;
  warn(message: string, ...extra: LogAttributes[]): void;
  error(message: string, ...extra: LogAttributes[]): void;
}
