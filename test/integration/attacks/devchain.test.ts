// A hostile chain client against the real dev chain process (`nsn devchain`): sybil registrations
// with self-declared stake, a web page's script (Origin header), one connection with thousands of
// subscriptions or calls, and a flood of connections. Before, registration was open (40 sybils took
// all 5 seats of an epoch), Origin was ignored and one connection with ~100k subscriptions slowed
// block production from 2 ms to 339 ms.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { WebSocket } from 'ws'
import { ChainClientError, DevChainClient } from '../../../src/chain/index.ts'
import { initBlake3, NodeKey } from '../../../src/crypto/index.ts'
import { bytesToHex } from '../../../src/types/index.ts'
import { expectRejectedWithCode } from '../../helpers.ts'
import { DIRECTOR_STAKE } from '../../unit/chain/chain-fixtures.ts'
import { type DevchainProcess, killAll, startDevchain, stopDevchain } from '../chain/devchain-process.ts'

await initBlake3()

/** Open a raw WebSocket; resolves with it, or rejects with the handshake's HTTP status. */
function open(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.once('open', () => resolve(ws))
    ws.once('unexpected-response', (_req, res) => {
      ws.terminate()
      reject(new Error(`HTTP ${res.statusCode}`))
    })
    ws.once('error', reject)
  })
}

/** Send `n` JSON-RPC calls on `ws` and collect the answers' error codes (0 = ok). */
function calls(ws: WebSocket, n: number, method: string, params: unknown = {}): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const out: number[] = []
    const timer = setTimeout(() => reject(new Error(`${out.length} of ${n} answers after 20 s`)), 20_000)
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { id?: number; error?: { code: number }; method?: string }
      if (m.method !== undefined) return // a subscription notification
      out.push(m.error?.code ?? 0)
      if (out.length === n) {
        clearTimeout(timer)
        resolve(out)
      }
    })
    for (let i = 0; i < n; i++) ws.send(JSON.stringify({ jsonrpc: '2.0', id: i, method, params }))
  })
}

describe('attack: hostile chain clients against the dev chain', { timeout: 120_000 }, () => {
  let dir = ''
  let chain: DevchainProcess | null = null
  let admitted: NodeKey
  const sockets: WebSocket[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nsn-attack-devchain-'))
    admitted = await NodeKey.generate()
    chain = await startDevchain(
      [
        '--data-dir',
        dir,
        '--listen',
        '127.0.0.1:0',
        '--block-ms',
        '200',
        '--allow-register',
        bytesToHex(admitted.publicKeyProto),
      ],
      90_000,
    )
  })
  after(async () => {
    for (const ws of sockets) ws.terminate()
    if (chain !== null) await stopDevchain(chain)
    await killAll()
    await rm(dir, { recursive: true, force: true })
  })

  test('registration is admitted by genesis or the operator allowlist, not by self-declared stake', async () => {
    const c = new DevChainClient({ url: chain!.url, requestTimeoutMs: 5000 })
    try {
      const reg = (k: NodeKey) => ({
        publicKey: k.publicKeyProto,
        role: 'director' as const,
        region: 'apac',
        stake: DIRECTOR_STAKE,
      })
      let refused = 0
      for (let i = 0; i < 5; i++) {
        const sybil = await NodeKey.generate()
        await expectRejectedWithCode(
          c.register(reg(sybil), sybil),
          ChainClientError,
          'NOT_ADMITTED',
          `sybil ${i}`,
        )
        refused++
      }
      assert.equal(refused, 5)
      await c.register(reg(admitted), admitted)
      assert.equal((await c.getAccount({ account: admitted.publicKeyProto }))?.stake, DIRECTOR_STAKE)
    } finally {
      await c.close()
    }
  })

  test('a browser Origin is refused unless allowed; a client without one connects', async () => {
    await assert.rejects(open(chain!.url, { Origin: 'http://evil.example' }), /HTTP 403/)
    const ws = await open(chain!.url)
    sockets.push(ws)
    assert.equal(ws.readyState, WebSocket.OPEN)
  })

  test('one connection is limited in subscriptions and calls per second', async () => {
    const ws = await open(chain!.url)
    sockets.push(ws)
    const subs = await calls(ws, 100, 'chain_subscribe')
    assert.equal(subs.filter((c) => c === 0).length, 16, 'at most 16 subscriptions')
    const ws2 = await open(chain!.url)
    sockets.push(ws2)
    const burst = await calls(ws2, 1000, 'chain_info')
    const limited = burst.filter((c) => c === -32013).length
    assert.ok(
      limited > 0 && limited < 1000,
      `calls over the per-second budget are refused (${limited} of 1000)`,
    )
  })

  test('connections are capped', async () => {
    const opened: WebSocket[] = []
    let refused = ''
    for (let i = 0; i < 80 && refused === ''; i++) {
      try {
        opened.push(await open(chain!.url))
      } catch (err) {
        refused = (err as Error).message
      }
    }
    sockets.push(...opened)
    assert.match(refused, /HTTP 503/, `opened ${opened.length} before a refusal`)
    assert.ok(opened.length <= 64, `${opened.length} opened (cap 64, other tests hold a few)`)
  })
})
