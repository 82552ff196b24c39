// Node 20 lacks two globals that libp2p 3.x and polkadot-api's ws provider use.
// Every entry point and the test runner import this module first.
import { WebSocket as WsWebSocket } from 'ws'

type Resolvers<T> = {
  promise: Promise<T>
  resolve: (value: T | PromiseLike<T>) => void
  reject: (reason?: unknown) => void
}

const P = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> }
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = <T>(): Resolvers<T> => {
    let resolve!: Resolvers<T>['resolve']
    let reject!: Resolvers<T>['reject']
    const promise = new Promise<T>((res, rej) => {
      resolve = res
      reject = rej
    })
    return { promise, resolve, reject }
  }
}

const G = globalThis as unknown as { WebSocket?: unknown }
if (G.WebSocket === undefined) G.WebSocket = WsWebSocket
