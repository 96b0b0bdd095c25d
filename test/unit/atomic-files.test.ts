import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectoryFiles } from '../../device/atomic-files';

/** The device's files: whole writes (temp file, fsync, rename), keys 0600, renames and removals that may repeat. */
describe('DirectoryFiles', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'atomic-files-'));

  it('replaces a file whole, mode 0600, leaving no temp file', async () => {
    const d = dir();
    writeFileSync(join(d, 'private.key'), 'old');
    const files = new DirectoryFiles(d);

    await files.write('private.key', 'new key');

    expect(await files.read('private.key')).toBe('new key');
    expect(statSync(join(d, 'private.key')).mode & 0o777).toBe(0o600);
    expect(readdirSync(d)).toEqual(['private.key']);
  });

  it('reads a missing file as undefined, and renames or removes one that is gone without an error (a step already done)', async () => {
    const files = new DirectoryFiles(dir());

    expect(await files.read('certificate.pem')).toBeUndefined();
    await expect(files.rename('certificate.pem.next', 'certificate.pem')).resolves.toBeUndefined();
    await expect(files.remove('certificate.pem.next')).resolves.toBeUndefined();
  });

  it('renames over the target', async () => {
    const d = dir();
    const files = new DirectoryFiles(d);
    await files.write('certificate.pem', 'old');
    await files.write('certificate.pem.next', 'new');

    await files.rename('certificate.pem.next', 'certificate.pem');

    expect(await files.read('certificate.pem')).toBe('new');
    expect(readdirSync(d)).toEqual(['certificate.pem']);
  });
});
