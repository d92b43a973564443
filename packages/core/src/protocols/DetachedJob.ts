/**
 * Hangar's detached-job protocol: how a provider runs a command that may outlast one exec request (Fly answers
 * an exec still running after ~30 s with 408 `deadline_exceeded`) through short execs of two fixed POSIX `sh`
 * scripts, and how it reads their answers. Providers (provider-fly) and the scripted exec backend share this one
 * definition, so the simulators can run the protocol deterministically in simulated time.
 *
 * - The start script (`startCommand`) makes `${TMPDIR:-/tmp}/hangar-jobs/<jobId>/`, starts the command in the
 *   background (`setsid`, else `nohup`, all its streams redirected to files in that directory; a watchdog kills
 *   it with SIGKILL after `limitSeconds`), then waits up to `waitMillis` for it in the same exec. When the job
 *   exists already (a start sent again after its answer was lost) it starts nothing and only waits, as a poll.
 * - The poll script (`pollCommand`) waits up to `waitMillis` again for a job started earlier.
 * - Both answer with a status line first on stdout: `hangar-job running`, `hangar-job missing` (no such job:
 *   never started, already collected, or lost with the machine's root filesystem), `hangar-job error <text>`,
 *   or `hangar-job done <exitCode> <exited|timedout> <startedAt> <endedAt>`, followed by the job's stdout
 *   byte for byte (its stderr on the exec's stderr); a done answer removes the job directory. Only the first
 *   line is read as the status, so a job printing `hangar-job …` itself cannot be mistaken for the framing.
 *   `startedAt`/`endedAt` are the machine's `date +%s.%N` at the job's start and end (empty or without a
 *   fraction where `date` lacks them).
 *
 * The scripts are constant text: the job id, the limits and the command's argv are positional parameters
 * (`sh -c SCRIPT hangar-job ID …ARGV`), never spliced into the script, so no argument is ever parsed by the shell.
 */

/** Where job directories live on the machine (under `$TMPDIR`, else /tmp). */
export const jobRoot = `\${TMPDIR:-/tmp}/hangar-jobs`

/** `$0` of both scripts. */
export const scriptName = "hangar-job"

/** The first word of every status line. */
export const statusPrefix = "hangar-job"

/**
 * Run by the start script as `sh -c RUNNER hangar-job DIR LIMIT ARGV…`, detached: records the start, runs the
 * command with its streams in files, kills it after LIMIT seconds (0: never; a watchdog counting 1 s sleeps, which
 * ends by itself within a second of the job, so nothing is left behind), records the end and the exit code (the
 * code last, by rename, so a waiter never sees a half-written job). No single quote in it: the start script holds
 * it in a single-quoted string.
 */
const runner = `dir=$1 limit=$2
shift 2
date +%s.%N >"$dir/started" 2>/dev/null
"$@" >"$dir/stdout" 2>"$dir/stderr" </dev/null &
pid=$!
if [ "$limit" -gt 0 ]; then
  (
    n=0
    while [ "$n" -lt "$limit" ] && [ -d "$dir" ] && [ ! -e "$dir/ended" ]; do
      sleep 1
      n=$((n + 1))
    done
    if [ -d "$dir" ] && [ ! -e "$dir/ended" ]; then
      : >"$dir/timedout"
      kill -9 "$pid" 2>/dev/null
    fi
  ) </dev/null >/dev/null 2>&1 &
fi
wait "$pid"
code=$?
date +%s.%N >"$dir/ended" 2>/dev/null
echo "$code" >"$dir/code.tmp" && mv "$dir/code.tmp" "$dir/code"
`

/**
 * Waits up to $wait ms for $dir/code, then prints the status line (and the job's output when it is done); a job
 * collected meanwhile by another exec is missing.
 */
const waitAndReport = `n=0
while [ -d "$dir" ] && [ ! -e "$dir/code" ] && [ "$n" -lt "$wait" ]; do
  if sleep 0.1 2>/dev/null; then n=$((n + 100)); else sleep 1; n=$((n + 1000)); fi
done
if [ -e "$dir/code" ]; then
  how=exited
  [ ! -e "$dir/timedout" ] || how=timedout
  echo "hangar-job done $(cat "$dir/code") $how $(cat "$dir/started" 2>/dev/null) $(cat "$dir/ended" 2>/dev/null)"
  cat "$dir/stdout" 2>/dev/null
  cat "$dir/stderr" >&2 2>/dev/null
  rm -rf "$dir"
elif [ -d "$dir" ]; then
  echo "hangar-job running"
else
  echo "hangar-job missing"
fi
`

const checkId = `case $id in
  "" | *[!A-Za-z0-9_-]*) echo "hangar-job error invalid job id"; exit 2 ;;
esac
case $wait in
  "" | *[!0-9]*) echo "hangar-job error invalid wait"; exit 2 ;;
esac
`

/** `sh -c startScript hangar-job JOB_ID WAIT_MILLIS LIMIT_SECONDS ARGV…` */
export const startScript = `id=$1 wait=$2 limit=$3
shift 3
${checkId}case $limit in
  "" | *[!0-9]*) echo "hangar-job error invalid limit"; exit 2 ;;
esac
if [ "$#" -eq 0 ]; then echo "hangar-job error no command"; exit 2; fi
root=${jobRoot}
dir=$root/$id
if ! mkdir -p "$root" 2>/dev/null; then
  echo "hangar-job error cannot create $root"
  exit 2
fi
if mkdir "$dir" 2>/dev/null; then
  runner='${runner}'
  if command -v setsid >/dev/null 2>&1; then
    setsid sh -c "$runner" hangar-job "$dir" "$limit" "$@" </dev/null >/dev/null 2>&1 &
  else
    nohup sh -c "$runner" hangar-job "$dir" "$limit" "$@" </dev/null >/dev/null 2>&1 &
  fi
elif [ ! -d "$dir" ]; then
  echo "hangar-job error cannot create $dir"
  exit 2
fi
${waitAndReport}`

/** `sh -c pollScript hangar-job JOB_ID WAIT_MILLIS` */
export const pollScript = `id=$1 wait=$2
${checkId}dir=${jobRoot}/$id
if [ ! -d "$dir" ]; then
  echo "hangar-job missing"
  exit 0
fi
${waitAndReport}`

export interface StartArgs {
  readonly jobId: string
  /** How long the start exec waits for the job before it answers `running`. */
  readonly waitMillis: number
  /** The job is killed (SIGKILL) after this many seconds; 0: never. */
  readonly limitSeconds: number
  readonly command: ReadonlyArray<string>
}

/** The argv of a start exec. */
export const startCommand = (args: StartArgs): Array<string> => [
  "sh",
  "-c",
  startScript,
  scriptName,
  args.jobId,
  String(Math.max(0, Math.round(args.waitMillis))),
  String(Math.max(0, Math.ceil(args.limitSeconds))),
  ...args.command
]

/** The argv of a poll exec. */
export const pollCommand = (jobId: string, waitMillis: number): Array<string> => [
  "sh",
  "-c",
  pollScript,
  scriptName,
  jobId,
  String(Math.max(0, Math.round(waitMillis)))
]

/** A start or poll exec recognised from its argv (exactly Hangar's scripts), with its parameters. */
export type Request =
  | {
      readonly _tag: "Start"
      readonly jobId: string
      readonly waitMillis: number
      readonly limitSeconds: number
      readonly command: ReadonlyArray<string>
    }
  | { readonly _tag: "Poll"; readonly jobId: string; readonly waitMillis: number }
  /** Hangar's script with parameters it would refuse (`hangar-job error …`). */
  | { readonly _tag: "Invalid"; readonly reason: string }

const validId = /^[A-Za-z0-9_-]+$/
const digits = /^[0-9]+$/

/** Recognises `argv` as a start or poll exec (the exact script texts), or undefined for anything else. */
export const recognise = (argv: ReadonlyArray<string>): Request | undefined => {
  const [program, flag, script, name, id = "", wait = "", ...rest] = argv
  if (program !== "sh" || flag !== "-c" || name !== scriptName) return undefined
  if (script !== startScript && script !== pollScript) return undefined
  if (!validId.test(id)) return { _tag: "Invalid", reason: "invalid job id" }
  if (!digits.test(wait)) return { _tag: "Invalid", reason: "invalid wait" }
  if (script === pollScript) return { _tag: "Poll", jobId: id, waitMillis: Number(wait) }
  const [limit = "", ...command] = rest
  if (!digits.test(limit)) return { _tag: "Invalid", reason: "invalid limit" }
  if (command.length === 0) return { _tag: "Invalid", reason: "no command" }
  return { _tag: "Start", jobId: id, waitMillis: Number(wait), limitSeconds: Number(limit), command }
}

/** What a start or poll exec answered. */
export type Report =
  | { readonly _tag: "Running" }
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Error"; readonly detail: string }
  | {
      readonly _tag: "Done"
      readonly exitCode: number
      readonly timedOut: boolean
      /** Epoch milliseconds on the machine's clock, when `date` gave them. */
      readonly startedAtMillis: number | undefined
      readonly endedAtMillis: number | undefined
      readonly stdout: string
      readonly stderr: string
    }

/** `1767225600.123456789` (or `1767225600`, or `1767225600.N` from a `date` without %N) → epoch ms. */
const parseTime = (text: string | undefined): number | undefined => {
  const match = /^([0-9]+)(?:\.([0-9]+))?/.exec(text ?? "")
  if (match === null) return undefined
  const fraction = (match[2] ?? "").padEnd(3, "0").slice(0, 3)
  return Number(match[1]) * 1000 + Number(fraction)
}

/**
 * Reads a start or poll exec's answer: the status is the first line of stdout only; the rest of stdout is the
 * job's. Undefined when the first line is not a status line (the exec did not run the script: no `sh`, say).
 */
export const parse = (stdout: string, stderr: string): Report | undefined => {
  const newline = stdout.indexOf("\n")
  const line = newline === -1 ? stdout : stdout.slice(0, newline)
  const rest = newline === -1 ? "" : stdout.slice(newline + 1)
  const words = line.split(" ")
  if (words[0] !== statusPrefix) return undefined
  switch (words[1]) {
    case "running":
      return words.length === 2 ? { _tag: "Running" } : undefined
    case "missing":
      return words.length === 2 ? { _tag: "Missing" } : undefined
    case "error":
      return { _tag: "Error", detail: words.slice(2).join(" ") }
    case "done": {
      const exitCode = Number(words[2])
      const how = words[3]
      if (!Number.isInteger(exitCode) || (how !== "exited" && how !== "timedout")) return undefined
      return {
        _tag: "Done",
        exitCode,
        timedOut: how === "timedout",
        startedAtMillis: parseTime(words[4]),
        endedAtMillis: parseTime(words[5]),
        stdout: rest,
        stderr
      }
    }
    default:
      return undefined
  }
}

/** `date +%s.%N` of an epoch-millisecond time (for backends that answer in simulated time). */
export const formatTime = (millis: number): string =>
  `${Math.floor(millis / 1000)}.${String(((millis % 1000) + 1000) % 1000).padStart(3, "0")}000000`

/** The status line and output a done job answers with, as the scripts print them. */
export const formatDone = (done: {
  readonly exitCode: number
  readonly timedOut: boolean
  readonly startedAtMillis: number
  readonly endedAtMillis: number
  readonly stdout: string
}): string =>
  `${statusPrefix} done ${done.exitCode} ${done.timedOut ? "timedout" : "exited"} ${formatTime(done.startedAtMillis)} ${formatTime(done.endedAtMillis)}\n${done.stdout}`

export const runningLine = `${statusPrefix} running\n`
export const missingLine = `${statusPrefix} missing\n`
export const errorLine = (detail: string): string => `${statusPrefix} error ${detail}\n`
