// When the page plays and when it holds (docs/protocol.md §6: the viewer plays certified slots in
// order). Slot N+1 is certified about one slot after slot N, and each slot's video lasts one slot,
// so the page keeps one whole slot buffered ahead of the playhead — it plays one slot behind live —
// and a late slot eats into that margin instead of stalling playback. When the margin is gone (a
// slot failed, or the network was slow), the page pauses on purpose before the media runs dry,
// says so, and starts again once the margin is back; the browser never reaches a stall.

/** One appended slot on the media timeline (seconds) and when it was appended (ms, page clock). */
export interface TimelineEntry {
  slot: bigint
  start: number
  end: number
  appendedAtMs: number
}

export interface PlayoutView {
  nowMs: number
  /** The playhead (seconds on the media timeline). */
  currentTime: number
  /** Whether the page is playing (not held). */
  playing: boolean
  timeline: readonly TimelineEntry[]
}

/**
 * Seconds left before the media runs out at which the page holds instead of letting it stall (a
 * whole second: the page's 100 ms check can run much later than that on a busy machine).
 */
export const HOLD_AHEAD_S = 1

export type PlayoutDecision =
  | { action: 'play'; reason: string }
  | { action: 'hold'; reason: string }
  | { action: 'none' }

/** Seconds of media buffered ahead of the playhead (to the end of the newest appended slot). */
export function aheadSeconds(v: PlayoutView): number {
  const last = v.timeline.at(-1)
  return last === undefined ? 0 : Math.max(0, last.end - v.currentTime)
}

/** Slots whose media is at least partly ahead of the playhead. */
export function slotsAhead(v: PlayoutView): TimelineEntry[] {
  return v.timeline.filter((e) => e.end > v.currentTime + 1e-3)
}

/**
 * Held: play once two slots are buffered ahead (one on screen, one in reserve), or once the only
 * buffered slot has waited one slot's length (the next one is due about now and the buffered slot
 * covers it). Playing: hold when less than HOLD_AHEAD_S is left.
 */
export function decide(v: PlayoutView): PlayoutDecision {
  const ahead = slotsAhead(v)
  if (!v.playing) {
    if (ahead.length >= 2) return { action: 'play', reason: 'one slot buffered ahead' }
    const only = ahead[0]
    // Only a slot not yet begun: after a hold near its end, its last second is no reserve.
    const unplayed = only !== undefined && only.start >= v.currentTime - 1e-3
    if (unplayed && v.nowMs - only.appendedAtMs >= (only.end - only.start) * 1000)
      return { action: 'play', reason: 'waited one slot for the next' }
    return { action: 'none' }
  }
  if (aheadSeconds(v) < HOLD_AHEAD_S && v.timeline.length > 0)
    return { action: 'hold', reason: 'no certified slot to follow yet' }
  return { action: 'none' }
}

/**
 * The slot on screen and how far behind live it is: in slots behind the newest certified slot the
 * page has, and in seconds of certified media still to play before the live edge.
 */
export function liveEdge(
  v: PlayoutView,
): { slot: bigint; behindSlots: number; behindSeconds: number } | null {
  const t = v.currentTime
  const on = v.timeline.find((x) => t >= x.start - 1e-3 && t < x.end) ?? v.timeline.at(-1)
  const newest = v.timeline.at(-1)
  if (on === undefined || newest === undefined) return null
  return { slot: on.slot, behindSlots: Number(newest.slot - on.slot), behindSeconds: aheadSeconds(v) }
}
