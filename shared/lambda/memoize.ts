/**
 * A lookup done once per container (DescribeEndpoint, a queue URL): concurrent callers share the one
 * request, a success is kept for the container's life, and a failure is forgotten so the next call asks
 * again rather than failing for as long as the container lives.
 */
export function memoizeAsync<T>(lookup: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= lookup().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
