/**
 * digest -> source path for an incrementally updated scan, without copying the previous scan's
 * map: a shared base that is never written plus a small per-scan delta, flattened once the delta
 * grows (amortized O(1) per change). It is a Map so that it stands wherever ContextScan.blobs does.
 */

const FLATTEN_MIN = 256;

/** A copy-on-write Map<string, string>: reads fall through to `base` unless the delta says otherwise. */
export class BlobSources extends Map<string, string> {
  private base: ReadonlyMap<string, string>;
  /** key -> value, or null for a key deleted from base. */
  private readonly delta: Map<string, string | null>;
  private count: number;

  private constructor(base: ReadonlyMap<string, string>, delta: Map<string, string | null>, count: number) {
    super();
    this.base = base;
    this.delta = delta;
    this.count = count;
  }

  /** A new map with the same contents as `from`; `from` is never changed by writes to the result. */
  static derive(from: ReadonlyMap<string, string>): BlobSources {
    if (!(from instanceof BlobSources)) return new BlobSources(from, new Map(), from.size);
    if (from.delta.size > FLATTEN_MIN + from.base.size / 8)
      return new BlobSources(new Map(from.entries()), new Map(), from.count);
    return new BlobSources(from.base, new Map(from.delta), from.count);
  }

  override get(key: string): string | undefined {
    const d = this.delta.get(key);
    if (d !== undefined) return d ?? undefined;
    return this.base.get(key);
  }

  override has(key: string): boolean {
    const d = this.delta.get(key);
    return d !== undefined ? d !== null : this.base.has(key);
  }

  override set(key: string, value: string): this {
    // Called by Map's constructor before the fields exist: there is nothing to add then.
    if (this.delta === undefined) return this;
    if (!this.has(key)) this.count++;
    this.delta.set(key, value);
    return this;
  }

  override delete(key: string): boolean {
    if (!this.has(key)) return false;
    this.count--;
    if (this.base.has(key)) this.delta.set(key, null);
    else this.delta.delete(key);
    return true;
  }

  override clear(): void {
    this.base = new Map();
    this.delta.clear();
    this.count = 0;
  }

  override get size(): number {
    return this.count;
  }

  override *entries(): MapIterator<[string, string]> {
    for (const [k, v] of this.base) if (!this.delta.has(k)) yield [k, v];
    for (const [k, v] of this.delta) if (v !== null) yield [k, v];
  }

  override *keys(): MapIterator<string> {
    for (const [k] of this.entries()) yield k;
  }

  override *values(): MapIterator<string> {
    for (const [, v] of this.entries()) yield v;
  }

  override [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }

  override forEach(
    fn: (value: string, key: string, map: Map<string, string>) => void,
    thisArg?: unknown,
  ): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }
}
