// Discovery on real libp2p nodes (127.0.0.1, one process): each node is given ONE bootstrap
// address; the Kademlia DHT on /nsn/kad/1.0.0 finds the rest, the directors' links are looked up,
// dialled, tagged as protected, and reported in status; the per-IP limit refuses an extra
// connection from one address before its handshake.
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { peerIdFromString } from '@libp2p/peer-id'
import { DIRECTOR_TAG, NSN_KAD_PROTOCOL, P2PNode, perIpGater } from '../../../src/p2p/index.ts'
import { testKeys } from '../../fixtures/index.ts'
import { addrOf, startNode, stopAll, type TestNode, until } from './helpers.ts'

describe('discovery through the DHT', { timeout: 90_000 }, () => {
  const started: TestNode[] = []
  after(() => stopAll(started))

  it('directors given one bootstrap address find, dial and protect each other', async () => {
    const keys = await testKeys(4, 60)
    const ids = keys.map((k) => k!.peerId)
    const directorPeers = () => ids
    const dhtServer = { dhtMode: 'server' as const }
    const first = await startNode(started, keys[0]!, { reachability: dhtServer, directorPeers })
    const boot = addrOf(first.node, 'tcp')
    const rest: TestNode[] = []
    for (const key of keys.slice(1)) {
      rest.push(await startNode(started, key!, { bootstrap: [boot], reachability: dhtServer, directorPeers }))
    }
    const all = [first, ...rest]
    const directPeers = (t: TestNode) =>
      new Set(
        t.node
          .status()
          .connections.filter((c) => c.kind !== 'relayed')
          .map((c) => c.peer),
      )
    const meshed = await until(() => all.every((t) => directPeers(t).size === all.length - 1), 60_000)
    assert.ok(
      meshed,
      `direct connections: ${all.map((t) => `${t.node.peerId.slice(-6)}=${directPeers(t).size}`).join(', ')}`,
    )
    for (const t of all) {
      const s = t.node.status()
      assert.equal(s.reachability.dht.enabled, true)
      assert.equal(s.reachability.dht.mode, 'server')
      assert.equal(s.reachability.directors.protected, all.length - 1)
      assert.ok(
        await until(() => t.node.status().reachability.directors.connectedDirect === all.length - 1, 10_000),
        `directors connected at ${t.node.peerId}: ${JSON.stringify(t.node.status().reachability.directors)}`,
      )
      assert.ok(['public', 'private', 'unknown'].includes(s.reachability.nat))
      assert.ok(
        s.connections.every((c) => c.kind === 'direct'),
        'loopback: no relayed connections',
      )
      // Protected: the connection manager never prunes peers with this tag.
      for (const other of all.filter((o) => o !== t)) {
        const peer = await t.node.libp2p!.peerStore.get(peerIdFromString(other.node.peerId))
        assert.ok(peer.tags.has(DIRECTOR_TAG), `${other.node.peerId} tagged at ${t.node.peerId}`)
      }
    }
    // The routing table learnt the other nodes (the DHT, not only the bootstrap list).
    assert.ok(
      await until(() => rest.every((t) => t.node.status().reachability.dht.routingTableSize >= 2), 20_000),
      `routing tables: ${rest.map((t) => t.node.status().reachability.dht.routingTableSize).join(',')}`,
    )
    const protocols = await first.node.libp2p!.peerStore.get(peerIdFromString(rest[0]!.node.peerId))
    assert.ok(protocols.protocols.includes(NSN_KAD_PROTOCOL), `speaks ${NSN_KAD_PROTOCOL}`)
  })

  it('refuses bad reachability and limit settings with the field and the bound', async () => {
    const [key] = await testKeys(1, 70)
    assert.throws(
      () => new P2PNode({ key: key!, limits: { maxConnectionsPerIp: 0 } }),
      /maxConnectionsPerIp: 0 must be an integer in 1\.\.100000/,
    )
    assert.throws(
      () => new P2PNode({ key: key!, reachability: { dhtMode: 'sometimes' as 'auto' } }),
      /dhtMode: "sometimes" is not one of auto, server, client/,
    )
  })

  it('the per-IP gate refuses the connection over the limit, never loopback', () => {
    const conn = (ip: string) => ({ remoteAddr: { toString: () => `/ip4/${ip}/tcp/4001` } })
    const open = [conn('198.18.0.7'), conn('198.18.0.7'), conn('198.18.0.8')]
    const gate = perIpGater(2, () => open as never)
    const inbound = (ip: string) =>
      gate.denyInboundConnection?.({ remoteAddr: { toString: () => `/ip4/${ip}/tcp/5000` } } as never)
    assert.equal(inbound('198.18.0.7'), true, 'third connection from one IP refused')
    assert.equal(inbound('198.18.0.8'), false, 'second from another IP accepted')
    open.push(conn('127.0.0.1'), conn('127.0.0.1'))
    assert.equal(inbound('127.0.0.1'), false, 'loopback exempt')
  })
})
