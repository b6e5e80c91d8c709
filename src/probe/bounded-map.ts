/**
 * Sets `key` as the newest entry of an insertion-ordered Map and drops the oldest entries
 * beyond `max`: the memory of the per-server caches stays bounded however many servers
 * come and go.
 */
export function setNewest<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  for (const oldest of map.keys()) {
    if (map.size <= max) return;
    map.delete(oldest);
  }
}
