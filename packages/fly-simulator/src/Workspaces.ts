/**
 * Real directories for the `process` exec backend: each machine's root filesystem is
 * `ROOT/machines/<id>/rootfs` (recreated empty on a start from stopped, as Fly resets the rootfs), each volume is
 * `ROOT/volumes/<id>`, and a mount is a symbolic link inside the rootfs at the mount path. Under `--data-dir` ROOT
 * is that directory, so volume data outlives stop/start and simulator restarts.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import type { Workspaces } from "./model/FlyModel.js"
import type { Machine } from "./model/Machine.js"

export const make = (
  root: string = mkdtempSync(join(tmpdir(), "fly-sim-"))
): Workspaces & { root: string } => {
  const rootfs = (machine: Machine) => join(root, "machines", machine.id, "rootfs")
  const volume = (id: string) => join(root, "volumes", id)
  return {
    root,
    workspace: (machine) => {
      const dir = rootfs(machine)
      mkdirSync(dir, { recursive: true })
      return dir
    },
    prepare: (machine, mounts, cleanRootfs) => {
      const dir = rootfs(machine)
      if (cleanRootfs) rmSync(dir, { recursive: true, force: true })
      mkdirSync(dir, { recursive: true })
      for (const mount of mounts) {
        const target = volume(mount.volumeId)
        mkdirSync(target, { recursive: true })
        const link = join(dir, mount.path.replace(/^\/+/, ""))
        if (link === dir || !link.startsWith(dir)) continue
        mkdirSync(dirname(link), { recursive: true })
        rmSync(link, { recursive: true, force: true })
        symlinkSync(target, link, "dir")
      }
      return dir
    },
    copyVolume: (from, to) => {
      mkdirSync(volume(from), { recursive: true })
      cpSync(volume(from), volume(to), { recursive: true })
    }
  }
}
