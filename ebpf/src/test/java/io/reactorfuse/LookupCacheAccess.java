package io.reactorfuse;

import com.github.benmanes.caffeine.cache.Ticker;

/**
 * Reaches LookupCache's package-private ticker from the ebpf tests (same package on the class
 * path): the handler's replies carry the time left until expiry, so comparing them byte for byte
 * with the cache's needs one clock under the test's control.
 */
public final class LookupCacheAccess {
  private LookupCacheAccess() {}

  public static LookupCache.Builder withTicker(LookupCache.Builder builder, Ticker ticker) {
    return builder.ticker(ticker);
  }
}
