/**
 * How the emulator runs a sandbox's processes. With bubblewrap (the default) every process of a sandbox runs in its
 * own user, pid, ipc and uts namespaces, as the sandbox user (uid 1000, never root), with the sandbox folder mounted as
 * its filesystem root: `/home/<user>` (its home), `/workspace` and a private `/tmp` are folders of the sandbox, the
 * host's system folders (`/usr`, `/bin`, `/lib*`, `/etc`) are mounted read-only, and nothing else of the host is
 * visible, let alone writable. A command that writes `/tmp/x`, `~/x` or `../../x` writes into the sandbox folder. The
 * processes end with the sandbox (its pid namespace) and with the emulator (`--die-with-parent`).
 *
 * Without bubblewrap the emulator runs sandbox commands as the host user on the host's filesystem — only when asked
 * (`unsafeHostProcesses`), with paths of the sandbox mapped under its folder where the emulator itself resolves them.
 *
 * @since 0.2.0
 */
import { Command, CommandExecutor } from "@effect/platform"
import { Data, Effect, Option } from "effect"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as NodePath from "node:path"

/**
 * `bubblewrap`: sandbox processes in their own namespaces; `host`: on the host, as the host user (unsafe).
 *
 * @since 0.2.0
 */
export type IsolationMode = "bubblewrap" | "host"

/**
 * What the isolation needs of a sandbox.
 *
 * @since 0.2.0
 */
export interface SandboxFs {
  readonly id: string
  /** The sandbox folder on the host: the sandbox's filesystem root. */
  readonly dir: string
  /** The sandbox user (`daytona` by default). */
  readonly user: string
}

/**
 * A process to start on the host for a command of the sandbox.
 *
 * @since 0.2.0
 */
export interface HostProcess {
  readonly file: string
  readonly args: ReadonlyArray<string>
  /** The host folder to start it in. */
  readonly cwd: string
  /** Its whole environment (nothing of the emulator's own environment is inherited). */
  readonly env: Readonly<Record<string, string>>
}

/**
 * How to run one command of a sandbox.
 *
 * @since 0.2.0
 */
export interface RunOptions {
  /** The working folder as the sandbox sees it (absolute, or relative to the user's home). */
  readonly cwd?: string | undefined
  /** The command's environment on top of the sandbox user's defaults (`PATH`, `HOME`, `USER`, …). */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Host folders (or files) the command may read, mounted read-only at the same path (e.g. a program to run). */
  readonly readOnly?: ReadonlyArray<string> | undefined
}

/**
 * The isolation of one emulator.
 *
 * @since 0.2.0
 */
export interface Isolation {
  readonly mode: IsolationMode
  /** The host process that runs `argv` as the sandbox user inside the sandbox (its folders created if missing). */
  readonly command: (sandbox: SandboxFs, argv: ReadonlyArray<string>, options?: RunOptions) => HostProcess
  /** The host path of a path as the sandbox sees it (relative paths from `cwd`, default the user's home). */
  readonly hostPath: (sandbox: SandboxFs, path: string, cwd?: string) => string
  /** The user's home folder as the sandbox sees it. */
  readonly home: (sandbox: SandboxFs) => string
}

/**
 * Bubblewrap is missing or cannot make namespaces here.
 *
 * @since 0.2.0
 */
export class IsolationUnavailable extends Data.TaggedError("IsolationUnavailable")<{
  readonly detail: string
}> {
  override get message(): string {
    return (
      `Sandbox processes cannot be isolated: ${this.detail}. Install bubblewrap (Debian/Ubuntu: ` +
      "`apt-get install bubblewrap`), or run the emulator with --unsafe-host-processes (option " +
      "unsafeHostProcesses) to run sandbox commands as your own user on this machine's filesystem"
    )
  }
}

/** The `PATH` of a sandbox user, as in Daytona's images. */
export const SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/** The sandbox user's uid and gid: never root. */
export const SANDBOX_UID = 1000

const SYSTEM_FOLDERS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"]

const VALID_USER = /^[a-z_][a-z0-9_-]{0,31}$/

const homeOf = (sandbox: SandboxFs) => `/home/${VALID_USER.test(sandbox.user) ? sandbox.user : "daytona"}`

/**
 * Maps a path as the sandbox sees it to the host: the sandbox folder is its root, so the result never leaves it.
 *
 * @since 0.2.0
 */
export const mapPath = (sandboxDir: string, path: string, cwd = "/"): string =>
  NodePath.join(sandboxDir, NodePath.posix.resolve("/", cwd, path))

/** The folders every sandbox has, created on first use. */
const ensureLayout = (sandbox: SandboxFs): void => {
  const home = mapPath(sandbox.dir, homeOf(sandbox))
  mkdirSync(home, { recursive: true })
  mkdirSync(mapPath(sandbox.dir, "/workspace"), { recursive: true })
  mkdirSync(mapPath(sandbox.dir, "/tmp"), { recursive: true, mode: 0o1777 })
}

const userEnv = (sandbox: SandboxFs, home: string): Record<string, string> => {
  const user = home.slice("/home/".length)
  return { HOME: home, USER: user, LOGNAME: user, SHELL: "/bin/bash", DAYTONA_SANDBOX_ID: sandbox.id }
}

/**
 * The `/etc/passwd` and `/etc/group` a sandbox user sees: the host's, without any entry of uid/gid 1000, plus the
 * sandbox user. Written once per user under `dir`.
 */
const identityFiles = (dir: string, user: string): { readonly passwd: string; readonly group: string } => {
  const base = NodePath.join(dir, user)
  const passwd = NodePath.join(base, "passwd")
  const group = NodePath.join(base, "group")
  const hostLines = (file: string) => {
    try {
      return readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line !== "" && line.split(":")[2] !== String(SANDBOX_UID) && !line.startsWith(`${user}:`))
    } catch {
      return []
    }
  }
  mkdirSync(base, { recursive: true })
  writeFileSync(
    passwd,
    [...hostLines("/etc/passwd"), `${user}:x:${SANDBOX_UID}:${SANDBOX_UID}::/home/${user}:/bin/bash`, ""].join("\n")
  )
  writeFileSync(group, [...hostLines("/etc/group"), `${user}:x:${SANDBOX_UID}:`, ""].join("\n"))
  return { passwd, group }
}

/**
 * Bubblewrap isolation; `stateDir` holds the generated identity files (outside every sandbox folder).
 *
 * @since 0.2.0
 */
export const bubblewrap = (bwrap: string, stateDir: string): Isolation => {
  const identities = new Map<string, { readonly passwd: string; readonly group: string }>()
  const identity = (user: string) => {
    let files = identities.get(user)
    if (files === undefined) {
      files = identityFiles(stateDir, user)
      identities.set(user, files)
    }
    return files
  }
  return {
    mode: "bubblewrap",
    home: homeOf,
    hostPath: (sandbox, path, cwd) => mapPath(sandbox.dir, path, cwd ?? homeOf(sandbox)),
    command: (sandbox, argv, options = {}) => {
      ensureLayout(sandbox)
      const home = homeOf(sandbox)
      const { group, passwd } = identity(home.slice("/home/".length))
      const args: Array<string> = ["--bind", sandbox.dir, "/"]
      for (const folder of SYSTEM_FOLDERS) args.push("--ro-bind-try", folder, folder)
      args.push("--ro-bind", passwd, "/etc/passwd", "--ro-bind", group, "/etc/group")
      for (const path of options.readOnly ?? []) args.push("--ro-bind", path, path)
      args.push(
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--unshare-user",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        sandbox.id.slice(0, 63),
        "--uid",
        String(SANDBOX_UID),
        "--gid",
        String(SANDBOX_UID),
        "--die-with-parent",
        "--chdir",
        NodePath.posix.resolve(home, options.cwd ?? home),
        "--",
        ...argv
      )
      return {
        file: bwrap,
        args,
        cwd: sandbox.dir,
        env: { PATH: SANDBOX_PATH, ...userEnv(sandbox, home), ...options.env }
      }
    }
  }
}

/**
 * No isolation: commands run on the host as the host user, in the sandbox folder's mapping of their working folder,
 * with `HOME` the user's home inside the sandbox folder.
 *
 * @since 0.2.0
 */
export const host: Isolation = {
  mode: "host",
  home: homeOf,
  hostPath: (sandbox, path, cwd) => mapPath(sandbox.dir, path, cwd ?? homeOf(sandbox)),
  command: (sandbox, argv, options = {}) => {
    ensureLayout(sandbox)
    const home = homeOf(sandbox)
    const hostHome = mapPath(sandbox.dir, home)
    return {
      file: argv[0] ?? "true",
      args: argv.slice(1),
      cwd: mapPath(sandbox.dir, options.cwd ?? home, home),
      env: {
        ...(process.env.PATH === undefined ? {} : { PATH: process.env.PATH }),
        ...userEnv(sandbox, home),
        HOME: hostHome,
        ...options.env
      }
    }
  }
}

/**
 * An `@effect/platform` `Command` for a host process.
 *
 * @since 0.2.0
 */
export const toCommand = (process: HostProcess): Command.Command =>
  Command.make(process.file, ...process.args).pipe(
    Command.workingDirectory(process.cwd),
    Command.env({ ...process.env }, { extendEnv: false })
  )

/**
 * Finds a working bubblewrap: on `PATH` (or `BWRAP`), able to make the namespaces the isolation uses.
 *
 * @since 0.2.0
 */
export const detect: Effect.Effect<Option.Option<string>, never, CommandExecutor.CommandExecutor> = Effect.gen(
  function* () {
    const bwrap = process.env.BWRAP ?? "bwrap"
    const probe = Command.make(
      bwrap,
      "--ro-bind",
      "/",
      "/",
      "--proc",
      "/proc",
      "--dev",
      "/dev",
      "--unshare-user",
      "--unshare-pid",
      "--uid",
      String(SANDBOX_UID),
      "--gid",
      String(SANDBOX_UID),
      "--",
      "/bin/sh",
      "-c",
      "id -u"
    )
    const output = yield* Command.string(probe).pipe(Effect.timeout("10 seconds"), Effect.option)
    return Option.filter(output, (text) => text.trim() === String(SANDBOX_UID)).pipe(Option.as(bwrap))
  }
)

/**
 * The isolation an emulator uses: bubblewrap when it works here; otherwise the host only when `unsafeHostProcesses`,
 * else `IsolationUnavailable`.
 *
 * @since 0.2.0
 */
export const make = (options: {
  readonly unsafeHostProcesses: boolean
  readonly stateDir: string
}): Effect.Effect<Isolation, IsolationUnavailable, CommandExecutor.CommandExecutor> =>
  Effect.gen(function* () {
    const found = yield* detect
    if (Option.isSome(found)) return bubblewrap(found.value, options.stateDir)
    if (options.unsafeHostProcesses) {
      yield* Effect.logWarning(
        "bubblewrap is not available: sandbox commands run UNISOLATED, as your user on this machine's filesystem"
      )
      return host
    }
    return yield* new IsolationUnavailable({ detail: "bubblewrap (bwrap) is missing or cannot create namespaces" })
  })
