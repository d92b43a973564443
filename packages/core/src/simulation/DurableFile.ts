/**
 * Writes that survive kill -9 and power loss, for the simulators' `--data-dir`: a file replaced atomically
 * (temporary file written and fsynced, renamed over the old one, the directory fsynced so the rename itself is
 * on disk), and the directory fsync on its own (after creating or truncating a file in it).
 */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs"
import { dirname } from "node:path"

/** Makes the directory's entries (a rename, a new file) durable. */
export const fsyncDirectory = (dir: string): void => {
  const fd = openSync(dir, "r")
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Replaces `path` with `text`, atomically and durably; answers the bytes written. */
export const replace = (path: string, text: string): number => {
  const fd = openSync(`${path}.tmp`, "w")
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(`${path}.tmp`, path)
  fsyncDirectory(dirname(path))
  return Buffer.byteLength(text)
}
