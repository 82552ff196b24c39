// Shared by the sidecar integration tests: a real server on 127.0.0.1 with the fixture plugins, a
// real client, and process checks that see through zombies.
import { readFileSync } from 'node:fs'
import {
  SidecarClient,
  type SidecarClientInit,
  SidecarServer,
  type SidecarServerInit,
} from '../../../src/sidecar/index.ts'

export const FIXTURE_PLUGINS = new URL('../../fixtures/plugins/', import.meta.url).pathname
export const REPO_PLUGINS = new URL('../../../plugins/', import.meta.url).pathname

export interface Harness {
  server: SidecarServer
  client: SidecarClient
  stop(): Promise<void>
}

export async function startSidecar(
  init: Partial<SidecarServerInit> = {},
  clientInit: SidecarClientInit = {},
): Promise<Harness> {
  const server = await SidecarServer.start({ pluginsDir: FIXTURE_PLUGINS, port: 0, ...init })
  const client = new SidecarClient({ address: server.address, ...clientInit })
  return {
    server,
    client,
    stop: async () => {
      client.close()
      await server.stop()
    },
  }
}

export const json = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o))
export const text = (b: Uint8Array): string => new TextDecoder().decode(b)

/** Alive and not a zombie (a reparented zombie still answers kill(pid, 0)). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

/** Waits up to `ms` for every pid to be gone; returns the ones still alive. */
export async function waitGone(pids: number[], ms = 3_000): Promise<number[]> {
  const until = Date.now() + ms
  for (;;) {
    const alive = pids.filter(pidAlive)
    if (alive.length === 0 || Date.now() > until) return alive
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** Polls `cond` every 20 ms for at most `ms`. */
export async function waitFor<T>(
  cond: () => Promise<T | undefined> | T | undefined,
  ms: number,
  what: string,
): Promise<T> {
  const until = Date.now() + ms
  for (;;) {
    const v = await cond()
    if (v !== undefined) return v
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
