package io.reactorfuse.recovery;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactorfuse.recovery.SupervisorProtocol.HandOff;
import io.reactorfuse.recovery.SupervisorProtocol.Message;
import io.reactorfuse.recovery.SupervisorProtocol.Ready;
import io.reactorfuse.recovery.SupervisorProtocol.Resent;
import io.reactorfuse.recovery.SupervisorProtocol.Serving;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class SupervisorProtocolTest {

  @Test
  void everyMessage_survivesARoundTrip() {
    for (Message m : List.of(
        new HandOff(3, 2, Path.of("/mnt/é x"), Path.of("/var/lib/fs/session.store")),
        new Ready(12345), new Serving(99, 7, -5L), new Resent(Long.MAX_VALUE, 1, 2))) {
      assertEquals(m, SupervisorProtocol.decode(SupervisorProtocol.encode(m)));
    }
  }

  @Test
  void ready_goldenBytes() {
    assertArrayEquals(new byte[] {
        1, // version
        2, // READY
        0, 0, 0, 0, 0, 0, 0x30, 0x39, // pid 12345, big-endian
    }, SupervisorProtocol.encode(new Ready(12345)));
  }

  @Test
  void decode_anotherVersion_namesTheFix() {
    byte[] packet = SupervisorProtocol.encode(new Ready(1));
    packet[0] = 2;
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SupervisorProtocol.decode(packet));
    assertTrue(e.getMessage().contains("same reactor-fuse build"), e.getMessage());
  }

  @Test
  void decode_truncatedOrTrailingBytes_isRefused() {
    byte[] ok = SupervisorProtocol.encode(new Serving(1, 2, 3));
    assertThrows(IllegalArgumentException.class,
        () -> SupervisorProtocol.decode(java.util.Arrays.copyOf(ok, ok.length - 1)));
    assertThrows(IllegalArgumentException.class,
        () -> SupervisorProtocol.decode(java.util.Arrays.copyOf(ok, ok.length + 1)));
    assertThrows(IllegalArgumentException.class,
        () -> SupervisorProtocol.decode(new byte[] {1, 99}));
  }
}
