/**
 * Adaptive quality: noVNC's JPEG quality (0-9, higher is better) and compression level (0-9,
 * higher is smaller but costs server CPU) chosen from what the gateway measures on the browser leg
 * (`GET /api/environments/:id/stream-stats`): the WebSocket ping round trip and, when the stream is
 * backed up (bytes waiting in the gateway), the throughput the link really carries.
 *
 * Lowering is quick (two bad samples), raising is slow (five good ones), so a link on a threshold
 * does not flap. The user can pin a tier; the pin wins until it is cleared.
 */

/** One preset: what noVNC sends in SetEncodings as quality/compression pseudo-encodings. */
export interface QualityTier {
  readonly name: string;
  readonly qualityLevel: number;
  readonly compressionLevel: number;
}

/** Best first. Loopback and LAN stay on tier 0. */
export const TIERS: readonly QualityTier[] = [
  { name: 'best', qualityLevel: 9, compressionLevel: 1 },
  { name: 'high', qualityLevel: 7, compressionLevel: 3 },
  { name: 'medium', qualityLevel: 5, compressionLevel: 6 },
  { name: 'low', qualityLevel: 3, compressionLevel: 8 },
  { name: 'lowest', qualityLevel: 1, compressionLevel: 9 },
];

/** The figures the controller reads from one stats sample. */
export interface LinkSample {
  /** WebSocket ping round trip, ms (null before the first pong). */
  readonly rttMs: number | null;
  /** Bytes sent to the browser in the last second. */
  readonly bytesToClientPerSecond: number;
  /** Bytes waiting in the gateway for the browser (the link is the bottleneck when this grows). */
  readonly bufferedToClient: number;
}

/** Above this many waiting bytes the link counts as saturated, so throughput = capacity. */
export const SATURATED_BYTES = 16 * 1024;

/** The tier a single sample asks for (0 = best). */
export function tierFor(s: LinkSample): number {
  let t = 0;
  const rtt = s.rttMs ?? 0;
  // The gateway's ping RTT includes event-loop stalls of a busy daemon (tens of ms on loopback
  // under load), so the first step down starts well above what a loaded loopback shows.
  if (rtt >= 600) t = 4;
  else if (rtt >= 300) t = 3;
  else if (rtt >= 150) t = 2;
  else if (rtt >= 80) t = 1;
  if (s.bufferedToClient >= SATURATED_BYTES) {
    const bps = s.bytesToClientPerSecond;
    const byBandwidth = bps < 64 * 1024 ? 4 : bps < 256 * 1024 ? 3 : bps < 1024 * 1024 ? 2 : 1;
    t = Math.max(t, byBandwidth);
  }
  return t;
}

/** Samples needed before the tier goes down (worse) or up (better). */
export const DOWN_AFTER = 2;
export const UP_AFTER = 5;

/** Keeps the current tier with hysteresis; `pin` overrides. */
export class QualityController {
  #tier = 0;
  #pin: number | undefined;
  #worse = 0;
  #better = 0;

  /** The tier in effect (pinned or measured). */
  get tier(): QualityTier {
    return TIERS[this.#pin ?? this.#tier] as QualityTier;
  }

  get tierIndex(): number {
    return this.#pin ?? this.#tier;
  }

  get isPinned(): boolean {
    return this.#pin !== undefined;
  }

  /** Pins a tier (index into {@link TIERS}), or clears the pin with undefined. */
  pin(index: number | undefined): void {
    this.#pin = index === undefined ? undefined : Math.max(0, Math.min(TIERS.length - 1, index));
  }

  /** Feeds one sample; returns true when the tier in effect changed. */
  update(s: LinkSample): boolean {
    const before = this.tierIndex;
    const want = tierFor(s);
    if (want > this.#tier) {
      this.#better = 0;
      if (++this.#worse >= DOWN_AFTER) {
        // Straight to what the link asks for: a degraded link needs relief now.
        this.#tier = want;
        this.#worse = 0;
      }
    } else if (want < this.#tier) {
      this.#worse = 0;
      if (++this.#better >= UP_AFTER) {
        // One step at a time upwards.
        this.#tier -= 1;
        this.#better = 0;
      }
    } else {
      this.#worse = 0;
      this.#better = 0;
    }
    return this.tierIndex !== before;
  }
}
