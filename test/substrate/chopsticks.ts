// Chopsticks (a real Substrate runtime executed from its genesis chain spec, offline) as a child
// process for the live tests: started on 127.0.0.1, stopped by pid, restartable on the same port
// with its blocks kept in a sqlite database (`resume`).
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { WebSocket } from 'ws'

const HERE = import.meta.dirname
const BIN = join(HERE, 'node_modules/.bin/chopsticks')
/** The asset hub's genesis spec carries `:code` (runtime statemine 900): a runtime chopsticks can run. */
export const CHAIN_SPEC_MODULE = '@substrate/connect-known-chains/rococo_v2_2_asset_hub'

export const chopsticksInstalled = (): boolean =>
  existsSync(BIN) && existsSync(join(HERE, 'node_modules/@substrate/connect-known-chains'))

/** chopsticks keeps blocks across a restart only in its sqlite db (sqlite3 builds from source). */
export const sqliteBuilt = (): boolean =>
  existsSync(join(HERE, 'node_modules/sqlite3/build/Release/node_sqlite3.node'))

export class Chopsticks {
  private proc: ChildProcess | null = null
  port = 0
  private constructor(private readonly dir: string) {}

  static async start(dir: string): Promise<Chopsticks> {
    const mod = CHAIN_SPEC_MODULE
    const { chainSpec } = (await import(mod)) as { chainSpec: string }
    await writeFile(join(dir, 'spec.json'), chainSpec)
    const c = new Chopsticks(dir)
    await c.launch(0, false)
    return c
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`
  }

  private async launch(port: number, resume: boolean): Promise<void> {
    const config = [
      `genesis: ${join(this.dir, 'spec.json')}`,
      'host: 127.0.0.1',
      `port: ${port}`,
      'build-block-mode: Instant',
      ...(sqliteBuilt() ? [`db: ${join(this.dir, 'chain.sqlite')}`] : []),
      ...(resume ? ['resume: true'] : []),
    ].join('\n')
    const file = join(this.dir, 'config.yml')
    await writeFile(file, `${config}\n`)
    const proc = spawn(BIN, ['--config', file], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.proc = proc
    let seen = ''
    this.port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL')
        reject(new Error(`chopsticks did not listen within 120 s; output: ${seen.slice(-1500)}`))
      }, 120_000)
      const onData = (b: Buffer) => {
        seen = (seen + b.toString()).slice(-20_000)
        const m = /RPC listening on .*ws:\/\/[^\s]*:(\d+)/.exec(seen)
        if (m !== null) {
          clearTimeout(timer)
          resolve(Number(m[1]))
        }
      }
      proc.stdout?.on('data', onData)
      proc.stderr?.on('data', onData)
      proc.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`chopsticks exited (${code}) before listening; output: ${seen.slice(-1500)}`))
      })
    })
    proc.stdout?.resume()
    proc.stderr?.resume()
  }

  /** Stop (by pid) and start again on the same port, resuming from the latest block in the db. */
  async restart(): Promise<void> {
    await this.stop()
    await this.launch(this.port, true)
  }

  async stop(): Promise<void> {
    const p = this.proc
    this.proc = null
    if (p === null || p.exitCode !== null || p.signalCode !== null) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => p.kill('SIGKILL'), 5_000)
      p.once('exit', () => {
        clearTimeout(timer)
        resolve()
      })
      p.kill('SIGTERM')
    })
  }

  get pid(): number | undefined {
    return this.proc?.pid
  }

  /** One JSON-RPC call on its own connection (chopsticks' dev_* methods). */
  async rpc<T = unknown>(method: string, params: unknown[]): Promise<T> {
    const ws = new WebSocket(this.url)
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve())
        ws.once('error', reject)
      })
      return await new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${method}: no answer within 60 s`)), 60_000)
        ws.on('message', (data) => {
          const msg = JSON.parse(String(data)) as { id?: number; result?: T; error?: { message: string } }
          if (msg.id !== 1) return
          clearTimeout(timer)
          if (msg.error !== undefined) reject(new Error(`${method}: ${msg.error.message}`))
          else resolve(msg.result as T)
        })
        ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }))
      })
    } finally {
      ws.close()
    }
  }
}
