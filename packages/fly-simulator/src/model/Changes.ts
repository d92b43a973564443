/**
 * What the model changed since the journal last wrote: the names and ids of apps, machines and volumes touched
 * (created, modified or removed). The journal writes those entities as they are now, or their removal, so a
 * write's cost follows what changed, not the size of the state. Nothing is recorded until a journal enables it,
 * so a simulator without `--data-dir` keeps no ids here.
 */
class Tracked extends Set<string> {
  enabled = false
  override add(value: string): this {
    return this.enabled ? super.add(value) : this
  }
}

export class Changes {
  readonly apps = new Tracked()
  readonly machines = new Tracked()
  readonly volumes = new Tracked()
  /** Apps whose forgotten machines' ledger grew. */
  readonly retired = new Tracked()

  /** Starts recording (the journal calls it). */
  enable(): void {
    for (const set of [this.apps, this.machines, this.volumes, this.retired]) set.enabled = true
  }

  get empty(): boolean {
    return (
      this.apps.size === 0 && this.machines.size === 0 && this.volumes.size === 0 && this.retired.size === 0
    )
  }

  clear(): void {
    this.apps.clear()
    this.machines.clear()
    this.volumes.clear()
    this.retired.clear()
  }
}
