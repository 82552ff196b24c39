// A typed event emitter (name → payload map instead of string-keyed emitters).
// Listeners run synchronously in registration order; one that throws does not stop the others.
// No `node:` imports, so browser code (the viewer's assembler) can use it too.

export type Listener<T> = (payload: T) => void

export class TypedEmitter<Events extends { [K in keyof Events]: unknown }> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>()
  /** Called with errors thrown by listeners (default: ignored, so an observer cannot break the node). */
  onListenerError: (err: unknown, event: keyof Events) => void = () => {}

  /** Register a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event)
    if (set === undefined) {
      set = new Set()
      this.listeners.set(event, set)
    }
    set.add(listener as Listener<never>)
    return () => this.off(event, listener)
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(listener as Listener<never>)
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.listeners.get(event)
    if (set === undefined) return
    for (const l of [...set]) {
      try {
        ;(l as Listener<Events[K]>)(payload)
      } catch (err) {
        this.onListenerError(err, event)
      }
    }
  }

  listenerCount<K extends keyof Events>(event: K): number {
    return this.listeners.get(event)?.size ?? 0
  }
}
