import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type Api } from '../api';
import { bundleFiles, DEVICE_ID_PATTERN, zipBundle, type Claim } from '../bundle';
import type { ConsoleConfig } from '../config';
import { ErrorNote } from '../ui';

/**
 * "Provision a device" (technicians and operators): the serial, typed or scanned, then a claim certificate
 * vended for it, handed out once as a download. The key is held in this component only, dropped when the
 * claim expires, is downloaded, or the page is left — never in any storage.
 */

function useCountdown(until: string | undefined): number | undefined {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!until) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [until]);
  return until ? Math.max(0, Math.floor((Date.parse(until) - now) / 1000)) : undefined;
}

/** The camera's barcode / QR reader, where the browser has one (BarcodeDetector); typing works everywhere. */
function Scanner({ onSerial, onClose }: { onSerial: (serial: string) => void; onClose: () => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const [error, setError] = useState<string>();
  useEffect(() => {
    let stream: MediaStream | undefined;
    let stopped = false;
    (async () => {
      try {
        const Detector = (globalThis as unknown as { BarcodeDetector: new (o: object) => { detect(v: HTMLVideoElement): Promise<Array<{ rawValue: string }>> } }).BarcodeDetector;
        const detector = new Detector({ formats: ['qr_code', 'code_128', 'data_matrix', 'ean_13'] });
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
        video.current!.srcObject = stream;
        await video.current!.play();
        while (!stopped) {
          const [code] = await detector.detect(video.current!);
          if (code?.rawValue) return onSerial(code.rawValue.trim());
          await new Promise((r) => setTimeout(r, 250));
        }
      } catch (e) {
        setError((e as Error).message);
      }
    })();
    return () => {
      stopped = true;
      stream?.getTracks().forEach((t) => t.stop());
    };
  }, []);
  return (
    <article>
      <video ref={video} muted playsInline style={{ width: '100%' }} />
      {error && <ErrorNote message={`camera: ${error}; type the serial instead`} />}
      <button class="secondary" onClick={onClose}>Close camera</button>
    </article>
  );
}

export function ProvisionPage({ api, config }: { api: Api; config: ConsoleConfig }) {
  const [serial, setSerial] = useState('');
  const [claim, setClaim] = useState<Claim>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [scanning, setScanning] = useState(false);
  const [downloaded, setDownloaded] = useState(false);
  const secondsLeft = useCountdown(claim?.expiration);
  const canScan = 'BarcodeDetector' in globalThis && !!navigator.mediaDevices;
  const valid = DEVICE_ID_PATTERN.test(serial);

  useEffect(() => {
    if (secondsLeft === 0) setClaim(undefined);
  }, [secondsLeft]);

  const vend = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setDownloaded(false);
    setBusy(true);
    try {
      setClaim(await api.post<Claim>('/provisioning-claims', { deviceId: serial }));
    } catch (e) {
      setError(e instanceof ApiError ? `${e.message}${e.reason ? ` (${e.reason})` : ''}` : (e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const download = () => {
    if (!claim) return;
    const blob = new Blob([zipBundle(bundleFiles(config, claim, serial)) as Uint8Array<ArrayBuffer>], { type: 'application/zip' });
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = `${serial}-claim.zip`;
    link.click();
    URL.revokeObjectURL(link.href);
    // Handed out once: the key leaves this page with the download.
    setClaim(undefined);
    setDownloaded(true);
  };

  return (
    <section>
      <h2>Provision a device</h2>
      <form onSubmit={vend}>
        <label>
          Serial number
          <input
            name="serial"
            value={serial}
            onInput={(e) => setSerial((e.target as HTMLInputElement).value.trim())}
            placeholder="e.g. SENSOR-0001"
            autocomplete="off"
            aria-invalid={serial ? !valid : undefined}
            required
          />
          {serial && !valid && <small>letters, digits, : _ - only, at most 128</small>}
        </label>
        <div role="group">
          {canScan && (
            <button type="button" class="secondary" onClick={() => setScanning(true)}>
              Scan
            </button>
          )}
          <button type="submit" disabled={!valid || busy || !!claim} aria-busy={busy}>
            Get a claim
          </button>
        </div>
      </form>
      {scanning && <Scanner onSerial={(s) => (setSerial(s), setScanning(false))} onClose={() => setScanning(false)} />}
      {error && <ErrorNote message={error} />}
      {claim && (
        <article id="claim">
          <header>
            Claim for <strong>{serial}</strong>
          </header>
          <p>
            Expires in <strong id="countdown">{Math.floor((secondsLeft ?? 0) / 60)}:{String((secondsLeft ?? 0) % 60).padStart(2, '0')}</strong>. The key is
            shown nowhere and can be downloaded once.
          </p>
          <button id="download" onClick={download}>
            Download {serial}-claim.zip
          </button>
          <details>
            <summary>What is in it</summary>
            <ul>
              <li>claim.pem.crt, claim.private.key (the claim certificate {claim.certificateId.slice(0, 12)}…)</li>
              <li>{config.serverCa.fileName} (the server CA)</li>
              <li>provision.sh (mosquitto_rr + jq), README.txt (endpoint {config.deviceEndpoint?.host ?? claim.endpoint}, template {claim.templateName}, our CLI's command)</li>
            </ul>
          </details>
        </article>
      )}
      {downloaded && <p id="downloaded">Downloaded. Put the files on the device and run <code>sh provision.sh</code> within the claim's 5 minutes.</p>}
    </section>
  );
}
