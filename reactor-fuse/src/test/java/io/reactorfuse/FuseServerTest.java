package io.reactorfuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactorfuse.ops.FuseInit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FuseServerTest {

  @Test
  void maxWrite_outOfRange_namesTheLimits() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> FuseServer.create().maxWrite(100));
    assertTrue(e.getMessage().contains("between 4096 and 1048576"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> FuseServer.create().maxWrite(2 << 20));
  }

  @Test
  void timeGranularity_mustBePowerOfTen() {
    assertThrows(IllegalArgumentException.class,
        () -> FuseServer.create().timeGranularity(Duration.ofNanos(3)));
    FuseServer.create().timeGranularity(Duration.ofMillis(1));
  }

  @Test
  void fsName_withComma_isRefusedBeforeReachingMount() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> FuseServer.create().fsName("a,b"));
    assertTrue(e.getMessage().contains("commas"), e.getMessage());
  }

  @Test
  void setters_returnNewBuilders() {
    FuseServer a = FuseServer.create();
    assertNotSame(a, a.debug(true));
  }

  @Test
  void initOptions_readdirplusFollowsWhetherOpsImplementIt() {
    long plain = FuseServer.initOptions(config(new FuseOps() {})).wantedFlags();
    assertEquals(0, plain & FuseInit.DO_READDIRPLUS);
    FuseOps withPlus = new FuseOps() {
      @Override
      public reactor.core.publisher.Flux<io.reactorfuse.ops.DirEntryPlus> readdirplus(
          io.reactorfuse.ops.FuseContext ctx, io.reactorfuse.ops.Request.Readdir req) {
        return reactor.core.publisher.Flux.empty();
      }
    };
    long plus = FuseServer.initOptions(config(withPlus)).wantedFlags();
    assertEquals(FuseInit.DO_READDIRPLUS | FuseInit.READDIRPLUS_AUTO,
        plus & (FuseInit.DO_READDIRPLUS | FuseInit.READDIRPLUS_AUTO));
  }

  @Test
  void mount_missingMountPoint_saysHowToCreateIt(@TempDir Path tmp) {
    Path missing = tmp.resolve("nope");
    FuseException e = assertThrows(FuseException.class, () ->
        FuseServer.create().mountPoint(missing).handle(new FuseOps() {}).mountNow());
    assertTrue(e.getMessage().contains("does not exist") && e.getMessage().contains("mkdir -p"),
        e.getMessage());
    assertEquals(Errno.ENOENT, e.errno());
  }

  @Test
  void mount_onAFile_saysItIsNotADirectory(@TempDir Path tmp) throws Exception {
    Path file = Files.createFile(tmp.resolve("f"));
    FuseException e = assertThrows(FuseException.class, () ->
        FuseServer.create().mountPoint(file).handle(new FuseOps() {}).mountNow());
    assertTrue(e.getMessage().contains("not a directory"), e.getMessage());
  }

  @Test
  void mount_withoutOps_saysWhatIsMissing(@TempDir Path tmp) {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> FuseServer.create().mountPoint(tmp).mountNow());
    assertTrue(e.getMessage().contains("handle(FuseOps)"), e.getMessage());
  }

  private static ServerConfig config(FuseOps ops) {
    ServerConfig c = new ServerConfig();
    c.ops = ops;
    return c;
  }
}
