// Lab: a 32 MiB video (a 45 s slot at about 6 Mbit/s) from a director behind NAT on a home uplink,
// every host's uplink capped at 50 Mbit/s (tc tbf). Asserts the NAT'd viewer receives it complete;
// prints the delivery time and the publisher's upload amplification (bytes its uplink sent ÷ video
// size), the figures of docs/protocol.md §10's propagation budget (13 s). Timings are printed,
// never asserted.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Lab, labUnavailable } from '../helpers/lab.ts'
import { LabNode, until } from './lab-client.ts'
import type { LabNodeConfig } from './lab-node.ts'

const why = labUnavailable()
const PORT = 4001
const VIDEO_MIB = 32
const SEEDS = { boot: 31, pub1: 32, pub2: 33, pub3: 34, home: 35, viewer: 36 } as const
type Name = keyof typeof SEEDS
const DIRECTORS: Name[] = ['home', 'boot', 'pub1', 'pub2', 'pub3']

describe('lab: bandwidth', {
  skip: why === null ? false : `network lab unavailable: ${why}`,
  timeout: 240_000,
}, () => {
  let lab: Lab
  const nodes = new Map<Name, LabNode>()

  before(async () => {
    lab = await Lab.create({
      publicHosts: ['boot', 'pub1', 'pub2', 'pub3'],
      natHosts: ['home', 'viewer'],
      uplinkMbit: 50,
    })
    const start = async (name: Name, bootstrap: string[]) => {
      const nat = lab.host(name).nat
      const cfg: LabNodeConfig = {
        seed: SEEDS[name],
        listen: [`/ip4/0.0.0.0/tcp/${PORT}`],
        bootstrap,
        directorSeeds: DIRECTORS.map((d) => SEEDS[d]),
        reachability: { dhtMode: nat ? 'client' : 'server', relayServer: name === 'boot', relayReserve: nat },
      }
      const n = new LabNode(lab.spawnNode(name, ['test/lab/lab-node.ts', JSON.stringify(cfg)]))
      nodes.set(name, n)
      return n.next('ready', 60_000)
    }
    const boot = await start('boot', [])
    const bootAddr = `/ip4/${lab.host('boot').ip}/tcp/${PORT}/p2p/${boot.peerId}`
    await Promise.all((['pub1', 'pub2', 'pub3', 'home', 'viewer'] as Name[]).map((n) => start(n, [bootAddr])))
  })

  after(async () => {
    await lab?.stop()
    if (lab !== undefined) assert.deepEqual(lab.leftovers(), [], 'every lab namespace removed')
  })

  it(`a ${VIDEO_MIB} MiB video from a home director reaches the viewer; prints time and amplification`, async () => {
    const home = nodes.get('home')!
    const viewer = nodes.get('viewer')!
    await until(async () => {
      const h = (await home.status()).topics.video.meshPeers.length
      const v = (await viewer.status()).topics.video.meshPeers.length
      return h >= 3 && v >= 1 ? null : `video mesh: home ${h} peers (want 3), viewer ${v} (want 1)`
    }, 90_000)
    const sent0 = lab.uplinkTxBytes('home')
    const t0 = Date.now()
    const published = await home.ask({ cmd: 'publish', mib: VIDEO_MIB, slot: 1 }, 'published', 120_000)
    await until(
      async () =>
        viewer.videos.some((v) => v.contentId === published.contentId)
          ? null
          : `viewer: no complete video yet (${viewer.videos.length} others)`,
      120_000,
    )
    const done = viewer.videos.find((v) => v.contentId === published.contentId)!
    const amplification = (lab.uplinkTxBytes('home') - sent0) / (VIDEO_MIB * 1024 * 1024)
    const seconds = (done.at - t0) / 1000
    const floor = (VIDEO_MIB * 8 * 1.048576) / 50
    console.log(
      `# ${VIDEO_MIB} MiB at 50 Mbit/s uplinks: viewer complete after ${seconds.toFixed(1)} s (one copy takes ` +
        `${floor.toFixed(1)} s on the link; budget 13 s); publisher upload amplification ${amplification.toFixed(2)} ` +
        `(goal <= 2); publishVideo returned after ${(published.ms / 1000).toFixed(1)} s`,
    )
    assert.ok(amplification > 0.9, `the publisher's uplink carried the video: ${amplification.toFixed(2)}x`)
  })
})
