// The node's slot-fetch role (docs/protocol.md §12): serve the verified archive on /nsn/slot/1.0.0
// and fetch the certified slots of the tracked window that the archive lacks. Which slots are
// certified comes from the chain (a recorded result) and is checked against the chain's elected set;
// the certificate is the chain's copy, or the one the archive recorder verified from gossip.
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { ArchiveRecorder, SlotArchive } from '../archive/index.ts'
import type { ChainClient, ChainInfo } from '../chain/index.ts'
import type { EpochTracker } from '../scheduler/index.ts'
import { checkCertificate, type TrustAnchor } from '../trust/index.ts'
import type { Certificate } from '../types/index.ts'
import type { P2PNode } from './node.ts'
import { createSlotFetchMetrics, type SlotFetchConfig, SlotFetcher, SlotFetchServer } from './slot-fetch.ts'

export interface SlotFetchRoleParts {
  p2p: P2PNode
  archive: SlotArchive
  recorder: ArchiveRecorder
  chain: ChainClient
  chainInfo: ChainInfo
  tracker: EpochTracker
  config: SlotFetchConfig
  registry: Registry
  logger: Logger
}

export interface SlotFetchRole {
  server: SlotFetchServer
  fetcher: SlotFetcher
  stop(): Promise<void>
}

/** Start serving and fetching; null when `slotFetch.enabled` is false. */
export async function startSlotFetch(parts: SlotFetchRoleParts): Promise<SlotFetchRole | null> {
  const { config, tracker, chain, chainInfo } = parts
  if (!config.enabled) return null
  const libp2p = parts.p2p.libp2p
  if (libp2p === null) throw new Error('slot fetch: the libp2p node is not started')
  const logger = parts.logger.child({ module: 'slot-fetch' })
  const metrics = createSlotFetchMetrics(parts.registry)
  const anchor: TrustAnchor = {
    networkId: chainInfo.genesisHash,
    quorum: chainInfo.quorum,
    slotsPerEpoch: chainInfo.slotsPerEpoch,
  }
  const electedFor = (epoch: bigint) => tracker.directors(epoch) ?? null
  // Verified certificates by slot; the fetcher only asks for slots of its window, so this stays small.
  const certificates = new Map<bigint, Certificate>()
  const certificate = async (slot: bigint): Promise<Certificate | null> => {
    const held = certificates.get(slot)
    if (held !== undefined) return held
    const fromChain = (await chain.slotResult(slot))?.certificate
    // The Substrate runtime keeps no certificates (no members): the recorder's gossip copy then.
    const cert =
      fromChain !== undefined && fromChain.members.length > 0 ? fromChain : parts.recorder.certificate(slot)
    if (cert === null || cert.slot !== slot) return null
    try {
      checkCertificate(cert, anchor, electedFor(cert.epoch))
    } catch {
      return null
    }
    if (certificates.size > config.slotsBehind + 4) {
      let oldest: bigint | undefined
      for (const s of certificates.keys()) if (oldest === undefined || s < oldest) oldest = s
      certificates.delete(oldest!)
    }
    certificates.set(slot, cert)
    return cert
  }

  const server = new SlotFetchServer({ libp2p, archive: parts.archive, logger, metrics }, config)
  await server.start()
  const fetcher = new SlotFetcher(
    {
      libp2p,
      archive: parts.archive,
      certificate,
      electedFor,
      currentSlot: () => tracker.currentSlot,
      logger,
      metrics,
    },
    anchor,
    config,
  )
  const off = tracker.events.on('chain', (ev) => {
    if (ev.type === 'BftResultSubmitted') fetcher.noteResult(ev.slot)
  })
  fetcher.start()
  // Results recorded before this node started (late start, restart): looked up once, in the background.
  void (async () => {
    for (const slot of fetcher.windowSlots())
      if ((await chain.slotResult(slot).catch(() => null)) !== null) fetcher.noteResult(slot, true)
    void fetcher.sweep()
  })()
  return {
    server,
    fetcher,
    stop: async () => {
      off()
      await fetcher.stop()
      await server.stop()
    },
  }
}
