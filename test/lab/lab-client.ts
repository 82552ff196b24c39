// The test side of a lab node (test/lab/lab-node.ts): ask over IPC, wait for answers with deadlines.
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import type { P2PStatus } from '../../src/p2p/index.ts'
import type { LabFromNode, LabToNode } from './lab-node.ts'

export class LabNode {
  private waiters: Array<{ ev: string; ok: (m: LabFromNode) => void }> = []
  readonly videos: Extract<LabFromNode, { ev: 'video' }>[] = []
  constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: LabFromNode) => {
      if (m.ev === 'video') this.videos.push(m)
      const i = this.waiters.findIndex((w) => w.ev === m.ev)
      if (i >= 0) this.waiters.splice(i, 1)[0]!.ok(m)
    })
  }
  next<E extends LabFromNode['ev']>(ev: E, timeoutMs = 30_000): Promise<Extract<LabFromNode, { ev: E }>> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`no "${ev}" from pid ${this.proc.pid} in ${timeoutMs} ms`)),
        timeoutMs,
      )
      this.waiters.push({
        ev,
        ok: (m) => {
          clearTimeout(t)
          resolve(m as Extract<LabFromNode, { ev: E }>)
        },
      })
    })
  }
  async ask<E extends LabFromNode['ev']>(m: LabToNode, ev: E, timeoutMs?: number) {
    const p = this.next(ev, timeoutMs)
    this.proc.send(m)
    return p
  }
  async status(): Promise<P2PStatus> {
    return (await this.ask({ cmd: 'status' }, 'status')).status
  }
}

export async function until(what: () => Promise<string | null>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: string | null = 'not checked'
  while (Date.now() < deadline) {
    last = await what()
    if (last === null) return
    await new Promise((r) => setTimeout(r, 250))
  }
  assert.fail(`timed out after ${timeoutMs} ms: ${last}`)
}
