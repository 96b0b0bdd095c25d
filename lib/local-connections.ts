import type { DiagnosisPorts } from '../shared/diagnosis/gather-facts';
import type { LocalEndpoints } from './local-endpoints';

/**
 * The local IoT Core's record of MQTT CONNECTs (GET /_local/connections): the client id each certificate
 * connected, or was refused, with — what AWS IoT writes to CloudWatch Logs as Connect log entries
 * (clientId, principalId = the certificate id, status) when its logging is on.
 */
export function localConnections(endpoints: Pick<LocalEndpoints, 'iot'>): NonNullable<DiagnosisPorts['connections']> {
  return {
    async recent(certificateId) {
      const response = await fetch(`${endpoints.iot}/_local/connections`, { signal: AbortSignal.timeout(5_000) });
      if (!response.ok) throw new Error(`GET /_local/connections answered HTTP ${response.status}`);
      const { connections } = (await response.json()) as {
        connections: Array<{ event: string; detail: string; at: number; clientId?: string; certificateId?: string }>;
      };
      return connections
        .filter((c) => c.certificateId === certificateId && c.clientId !== undefined && (c.event === 'connected' || c.event === 'refused'))
        .map((c) => ({
          at: new Date(c.at).toISOString(),
          clientId: c.clientId!,
          outcome: c.event as 'connected' | 'refused',
          ...(c.event === 'refused' ? { reason: c.detail.replace(/^connect [^:]*: /, '') } : {}),
        }));
    },
  };
}
