package io.reactorfuse.internal.dispatch;

import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.ops.Request;

/** INIT as a pure function: what the kernel offers and the server wants, to what both use. */
public final class InitNegotiation {
  private static final int PAGE = 4096;
  /** Without FUSE_MAX_PAGES the kernel caps requests at 32 pages. */
  private static final int DEFAULT_MAX_PAGES = 32;

  private InitNegotiation() {}

  /**
   * Negotiates. Never enables a flag the kernel did not offer.
   *
   * @throws io.reactorfuse.FuseException for a protocol older than 7.31 or not major 7
   */
  public static FuseInit negotiate(Request.Init kernel, InitOptions want) {
    if (kernel.major() != 7 || kernel.minor() < InitOptions.OLDEST_MINOR) {
      throw new io.reactorfuse.FuseException(
          "the kernel speaks FUSE protocol " + kernel.major() + "." + kernel.minor()
              + "; reactor-fuse needs 7." + InitOptions.OLDEST_MINOR + " or newer (Linux 5.4+)");
    }
    int minor = Math.min(kernel.minor(), InitOptions.MINOR);
    long offered = kernel.flags();
    long flags = want.wantedFlags();

    int maxWrite = Math.max(PAGE, want.maxWrite());
    int maxPages = (maxWrite + PAGE - 1) / PAGE;
    if (maxPages > DEFAULT_MAX_PAGES) {
      if ((offered & FuseInit.MAX_PAGES) != 0) {
        flags |= FuseInit.MAX_PAGES;
      } else {
        maxPages = DEFAULT_MAX_PAGES;
        maxWrite = DEFAULT_MAX_PAGES * PAGE;
      }
    }
    flags |= FuseInit.BIG_WRITES; // lets WRITE carry more than one page
    if ((offered & FuseInit.INIT_EXT) != 0) {
      flags |= FuseInit.INIT_EXT; // needed to send any flag above bit 31
    }
    flags &= offered;
    if ((flags & FuseInit.INIT_EXT) == 0) {
      flags &= 0xffffffffL;
    }
    if ((flags & FuseInit.PASSTHROUGH) != 0) {
      flags &= ~FuseInit.WRITEBACK_CACHE; // the kernel refuses the combination
    }
    return new FuseInit(
        kernel.major(),
        kernel.minor(),
        minor,
        offered,
        flags,
        Math.min(want.maxReadahead(), kernel.maxReadahead()),
        maxWrite,
        maxPages,
        want.maxBackground(),
        want.congestionThreshold(),
        want.timeGran(),
        (flags & FuseInit.PASSTHROUGH) != 0 ? 1 : 0);
  }
}
