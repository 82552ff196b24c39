// `nsn doctor`: check a node's setup with the same configuration flags as `nsn node` and say, for
// each problem, what to fix. Checks: configuration, key file (present, 0600), data folder (lock,
// free disk), ports, chain (reachable, expected network id), registration and election, sidecar and
// plugins, espeak-ng/ffmpeg, clock. When a node already runs on the data folder its ports are its
// own, so its /health is asked instead of binding them. Exit 0 when every check passes.
import { spawnSync } from 'node:child_process'
import { readdir, stat, statfs } from 'node:fs/promises'
import { createServer } from 'node:net'
import { isAbsolute, join, resolve } from 'node:path'
import { Command, InvalidArgumentError } from 'commander'
import { DevChainClient } from '../chain/index.ts'
import { KeyError, NodeKey } from '../crypto/index.ts'
import { ConfigError, type NodeConfig } from '../node/config.ts'
import { lockHolder } from '../node/lock.ts'
import { PACKAGE_ROOT } from '../node/package-info.ts'
import { SidecarClient } from '../sidecar/index.ts'
import { bytesToHex } from '../types/index.ts'
import { addConfigOptions, configFromFlags, type NodeFlags } from './node.ts'

export interface DoctorResult {
  name: string
  ok: boolean
  /** What was found. */
  detail: string
  /** What to do about it (failures). */
  fix?: string
}

/** Default bound on the local clock's skew against the chain's block timestamps. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 2000

/**
 * The local clock against the chain's: the best block was sealed at `bestBlockTimestampMs` (chain
 * clock), at most one block time before the chain answered, and the answer came between the local
 * readings `sentMs` and `receivedMs`. So the local clock is ahead by at least
 * `sentMs - (ts + blockTimeMs)` and at most `receivedMs - ts`; a skew beyond `maxSkewMs` either way
 * fails. Pure, so a skewed clock is tested by passing the readings.
 */
export function clockCheck(
  info: { bestBlock: bigint; blockTimeMs: number; bestBlockTimestampMs?: number | null },
  sentMs: number,
  receivedMs: number,
  maxSkewMs: number,
): DoctorResult {
  const ts = info.bestBlockTimestampMs ?? null
  if (ts === null)
    return {
      name: 'clock',
      ok: true,
      detail: `not measured: the chain reports no timestamp for block ${info.bestBlock} yet (slots follow chain blocks, ${info.blockTimeMs} ms each)`,
    }
  const atLeast = sentMs - (ts + info.blockTimeMs)
  const atMost = receivedMs - ts
  const fix =
    "synchronise this machine's clock (timedatectl set-ntp true, or chrony/ntpd); if the clock is right, the chain has stopped producing blocks"
  if (atLeast > maxSkewMs)
    return {
      name: 'clock',
      ok: false,
      detail: `this machine's clock is at least ${atLeast} ms ahead of the chain's (block ${info.bestBlock}); the bound is ${maxSkewMs} ms`,
      fix,
    }
  if (atMost < -maxSkewMs)
    return {
      name: 'clock',
      ok: false,
      detail: `this machine's clock is at least ${-atMost} ms behind the chain's (block ${info.bestBlock}); the bound is ${maxSkewMs} ms`,
      fix: fix.replace(/; if the clock.*$/, ''),
    }
  return {
    name: 'clock',
    ok: true,
    detail: `within ${maxSkewMs} ms of the chain's block timestamps (ahead by ${atLeast} to ${atMost} ms)`,
  }
}

/** Below this much free space in the data folder the journal and sidecar outputs are at risk. */
export const MIN_FREE_BYTES = 1024 ** 3

async function portFree(host: string, port: number): Promise<boolean> {
  if (port === 0) return true
  return new Promise((res) => {
    const srv = createServer()
    srv.once('error', () => res(false))
    srv.listen(port, host, () => srv.close(() => res(true)))
  })
}

function tcpPorts(listen: readonly string[]): { host: string; port: number; addr: string }[] {
  const out: { host: string; port: number; addr: string }[] = []
  for (const addr of listen) {
    const m = /^\/ip[46]\/([^/]+)\/tcp\/(\d+)/.exec(addr)
    if (m) out.push({ host: m[1]!, port: Number(m[2]), addr })
  }
  return out
}

function onPath(cmd: string): boolean {
  return spawnSync(cmd, ['-version'], { stdio: 'ignore', timeout: 5000 }).error === undefined
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

export async function runChecks(
  config: NodeConfig,
  opts: { expectNetworkId?: string; maxClockSkewMs?: number; now?: () => number },
): Promise<DoctorResult[]> {
  const now = opts.now ?? Date.now
  const out: DoctorResult[] = []
  const dataDir = resolve(config.node.dataDir)
  const configured = config.node.keyFile !== ''
  const keyPath = configured ? resolve(config.node.keyFile) : join(dataDir, 'node.key')

  // Key file.
  let key: NodeKey | null = null
  try {
    key = await NodeKey.load(keyPath)
    out.push({ name: 'key file', ok: true, detail: `${keyPath}: mode 0600, PeerId ${key.peerId}` })
  } catch (err) {
    if (err instanceof KeyError && err.code === 'NOT_FOUND') {
      out.push({
        name: 'key file',
        ok: false,
        detail: `${keyPath} does not exist${configured ? '' : ' (the node would create a new identity)'}`,
        fix: `nsn keygen --out ${keyPath}, then register its publicKey (nsn register --key ${keyPath})`,
      })
    } else if (err instanceof KeyError && err.code === 'INSECURE_PERMISSIONS') {
      out.push({ name: 'key file', ok: false, detail: err.message, fix: `chmod 600 ${keyPath}` })
    } else {
      out.push({
        name: 'key file',
        ok: false,
        detail: (err as Error).message,
        fix: 'replace it with a key from nsn keygen',
      })
    }
  }

  // Data folder: a running node, free disk.
  const holder = await lockHolder(dataDir)
  const fs = await statfs(await existingParent(dataDir)).catch(() => null)
  if (fs !== null) {
    const free = fs.bavail * fs.bsize
    const gib = (free / 1024 ** 3).toFixed(1)
    out.push(
      free >= MIN_FREE_BYTES
        ? { name: 'disk', ok: true, detail: `${gib} GiB free for ${dataDir}` }
        : {
            name: 'disk',
            ok: false,
            detail: `only ${gib} GiB free for ${dataDir}`,
            fix: 'free space or move node.dataDir (the journal and sidecar outputs grow with every slot)',
          },
    )
  }

  // Ports: free, or held by the node already running on this folder (then ask its /health).
  if (holder !== null) {
    const url = `http://${config.http.host}:${config.http.port}/health`
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(3000) })
      const h = (await res.json()) as { healthy: boolean; reasons: string[] }
      out.push(
        h.healthy
          ? { name: 'running node', ok: true, detail: `process ${holder} runs on ${dataDir}; ${url} healthy` }
          : {
              name: 'running node',
              ok: false,
              detail: `process ${holder} runs on ${dataDir}; ${url}: ${h.reasons.join('; ')}`,
              fix: 'see the reasons; docs/operating.md "Troubleshooting"',
            },
      )
    } catch (err) {
      out.push({
        name: 'running node',
        ok: false,
        detail: `process ${holder} holds ${dataDir} but ${url} does not answer (${(err as Error).message})`,
        fix: 'check http.port matches the running node, or stop the process holding the folder',
      })
    }
  } else {
    const busy: string[] = []
    if (!(await portFree(config.http.host, config.http.port)))
      busy.push(`http.port ${config.http.host}:${config.http.port}`)
    for (const p of tcpPorts(config.p2p.listen))
      if (!(await portFree(p.host, p.port))) busy.push(`p2p.listen ${p.addr}`)
    out.push(
      busy.length === 0
        ? { name: 'ports', ok: true, detail: 'http.port and p2p.listen ports are free' }
        : {
            name: 'ports',
            ok: false,
            detail: `in use by another process: ${busy.join(', ')}`,
            fix: 'stop that process or choose other ports (http.port, p2p.listen)',
          },
    )
  }

  // Chain: reachable, network id, registration, election.
  if (config.chain.kind !== 'dev') {
    out.push({
      name: 'chain',
      ok: true,
      detail: `chain.kind ${config.chain.kind}: reachability is checked by the node at start (docs/chain.md)`,
    })
  } else {
    const chain = new DevChainClient({ url: config.chain.url })
    try {
      const sentMs = now()
      const info = await Promise.race([
        chain.info(),
        new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no answer within 5 s')), 5000)),
      ])
      const receivedMs = now()
      const networkId = bytesToHex(info.genesisHash)
      const expect = opts.expectNetworkId?.replace(/^0x/, '').toLowerCase()
      out.push(
        expect === undefined || expect === networkId
          ? {
              name: 'chain',
              ok: true,
              detail: `${config.chain.url}: block ${info.bestBlock}, network id 0x${networkId}`,
            }
          : {
              name: 'chain',
              ok: false,
              detail: `${config.chain.url} is network 0x${networkId}, expected 0x${expect}`,
              fix: 'point chain.url at the right chain (a reset dev chain has a new genesis)',
            },
      )
      out.push(clockCheck(info, sentMs, receivedMs, opts.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS))
      if (key !== null && config.node.role === 'director') {
        const acc = await chain.getAccount({ peer: key.publicKeyProto })
        if (acc === null || acc.role !== 'director') {
          out.push({
            name: 'registration',
            ok: false,
            detail: `${key.peerId} is ${acc === null ? 'not registered' : `registered as ${acc.role}`} on ${config.chain.url}`,
            fix: `nsn register --key ${keyPath} --chain-url ${config.chain.url}`,
          })
        } else {
          const elected = (await chain.electedDirectors(info.currentEpoch)).some((d) =>
            equal(d, key!.publicKeyProto),
          )
          out.push({
            name: 'registration',
            ok: true,
            detail: `registered as director (${acc.region}, stake ${acc.stake}); ${elected ? `elected for epoch ${info.currentEpoch}` : `not elected for epoch ${info.currentEpoch} (standby until an election picks it)`}`,
          })
        }
      }
    } catch (err) {
      out.push({
        name: 'chain',
        ok: false,
        detail: `${config.chain.url}: ${(err as Error).message}`,
        fix: 'start the chain (nsn devchain) or fix chain.url',
      })
    } finally {
      await chain.close().catch(() => {})
    }
  }

  // Sidecar and plugins (directors only).
  if (config.node.role === 'director') {
    if (config.sidecar.mode === 'embedded') {
      const dir = isAbsolute(config.sidecar.pluginsDir)
        ? config.sidecar.pluginsDir
        : join(PACKAGE_ROOT, config.sidecar.pluginsDir)
      const plugins: string[] = []
      for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        if (e.isDirectory() && (await stat(join(dir, e.name, 'manifest.yaml')).catch(() => null)) !== null)
          plugins.push(e.name)
      }
      out.push(
        plugins.length > 0
          ? { name: 'sidecar', ok: true, detail: `embedded; plugins in ${dir}: ${plugins.join(', ')}` }
          : {
              name: 'sidecar',
              ok: false,
              detail: `no plugin (<name>/manifest.yaml) in ${dir}`,
              fix: 'set sidecar.pluginsDir to the folder holding vortex-lane0',
            },
      )
    } else {
      const client = new SidecarClient({ address: config.sidecar.url, callTimeoutMs: 3000, retries: 0 })
      try {
        const h = await client.healthCheck({ signal: AbortSignal.timeout(4000) })
        out.push(
          h.healthy
            ? {
                name: 'sidecar',
                ok: true,
                detail: `${config.sidecar.url}: healthy; plugins ${h.plugins.join(', ')}`,
              }
            : {
                name: 'sidecar',
                ok: false,
                detail: `${config.sidecar.url}: not healthy or not answering`,
                fix: 'start it (nsn sidecar) or fix sidecar.url',
              },
        )
      } catch (err) {
        out.push({
          name: 'sidecar',
          ok: false,
          detail: `${config.sidecar.url}: ${(err as Error).message}`,
          fix: 'start it (nsn sidecar) or fix sidecar.url',
        })
      } finally {
        await client.close()
      }
    }
    // espeak-ng is optional (the plugin synthesises a voice without it); ffmpeg only plays results.
    out.push({
      name: 'espeak-ng',
      ok: true,
      detail: onPath('espeak-ng')
        ? 'present: the plugin speaks the audio script'
        : 'absent: the plugin uses its synthesised voice (apt-get install espeak-ng for speech)',
    })
    out.push({
      name: 'ffmpeg',
      ok: true,
      detail: onPath('ffmpeg') ? 'present' : 'absent (not needed by the node; useful to play results)',
    })
  }
  return out
}

async function existingParent(dir: string): Promise<string> {
  let d = dir
  for (let i = 0; i < 50; i++) {
    if ((await stat(d).catch(() => null)) !== null) return d
    d = resolve(d, '..')
  }
  return '/'
}

export function doctorCommand(): Command {
  return addConfigOptions(
    new Command('doctor').description("check a node's setup (same flags as nsn node) and say what to fix"),
  )
    .option('--expect-network-id <hex>', 'the genesis hash (network id) the chain must have')
    .option(
      '--max-clock-skew-ms <ms>',
      "largest skew of this machine's clock against the chain's block timestamps",
      (v: string) => {
        const n = Number(v)
        if (!/^\d+$/.test(v) || !Number.isSafeInteger(n))
          throw new InvalidArgumentError('must be a whole number of milliseconds')
        return n
      },
      DEFAULT_MAX_CLOCK_SKEW_MS,
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 every check passed, 1 a check failed (each says its fix), 2 bad usage.',
    )
    .action(async (flags: NodeFlags & { expectNetworkId?: string; maxClockSkewMs?: number }) => {
      let config: NodeConfig
      try {
        config = await configFromFlags(flags)
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err
        process.stdout.write(
          `FAIL configuration: ${err.message}\n     fix: see docs/config.md for ${err.key || 'the file'}\n`,
        )
        process.exitCode = 1
        return
      }
      const results = [
        { name: 'configuration', ok: true, detail: 'valid' },
        ...(await runChecks(config, flags)),
      ]
      for (const r of results) {
        process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: ${r.detail}\n`)
        if (!r.ok && r.fix !== undefined) process.stdout.write(`     fix: ${r.fix}\n`)
      }
      const failed = results.filter((r) => !r.ok).length
      process.stdout.write(failed === 0 ? 'all checks passed\n' : `${failed} check(s) failed\n`)
      process.exitCode = failed === 0 ? 0 : 1
    })
}
