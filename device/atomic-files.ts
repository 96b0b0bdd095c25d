import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Files a device keeps across power loss: each write lands whole or not at all (temp file, fsync, rename,
 * fsync of the directory: POSIX rename(2) replaces the target atomically; the directory fsync makes the rename
 * itself durable). The agent writes through the `DeviceFiles` port, so a test can cut the power between any two
 * steps.
 */
export interface DeviceFiles {
  /** The file's text, or undefined when it does not exist. */
  read(name: string): Promise<string | undefined>;
  /** Replaces `name` atomically with `data` (mode 0600: keys live here). */
  write(name: string, data: string): Promise<void>;
  /** Renames atomically over `to`; nothing when `from` does not exist (a rename that already happened). */
  rename(from: string, to: string): Promise<void>;
  /** Removes `name`; nothing when it does not exist. */
  remove(name: string): Promise<void>;
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on a directory (EINVAL); the rename is then as durable as they make it.
  } finally {
    await handle.close();
  }
}

/** Writes `path` atomically: `<path>.tmp`, fsync, rename over `path`, fsync of the directory. */
export async function writeFileAtomic(dir: string, name: string, data: string, mode = 0o600): Promise<void> {
  const target = join(dir, name);
  const temporary = `${target}.tmp`;
  const handle = await open(temporary, 'w', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, target);
  await fsyncDirectory(dir);
}

/** A device's files in one directory. */
export class DirectoryFiles implements DeviceFiles {
  constructor(readonly dir: string) {}

  async read(name: string): Promise<string | undefined> {
    try {
      return await readFile(join(this.dir, name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  write(name: string, data: string): Promise<void> {
    return writeFileAtomic(this.dir, name, data);
  }

  async rename(from: string, to: string): Promise<void> {
    try {
      await rename(join(this.dir, from), join(this.dir, to));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    await fsyncDirectory(this.dir);
  }

  async remove(name: string): Promise<void> {
    await rm(join(this.dir, name), { force: true });
    await fsyncDirectory(this.dir);
  }
}
