package io.reactorfuse.recovery;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.reactorfuse.internal.sys.NativeError;
import io.reactorfuse.internal.sys.Spawn;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The SCM_RIGHTS plumbing the supervisor's hand-off rests on, on a SOCK_SEQPACKET pair. */
class SpawnMessagesTest {
  private int[] pair;

  @BeforeEach
  void setUp() throws NativeError {
    pair = Spawn.socketPair(true);
  }

  @AfterEach
  void tearDown() {
    Spawn.close(pair[0]);
    Spawn.close(pair[1]);
  }

  @Test
  void send_payloadAndFds_arriveAsOneMessage() throws Exception {
    int[] carried = Spawn.socketPair(false);
    try {
      Spawn.send(pair[0], new byte[] {1, 2, 3}, carried);
      Spawn.send(pair[0], new byte[] {4});
      Spawn.Message m = Spawn.receive(pair[1], 64, 4);
      assertArrayEquals(new byte[] {1, 2, 3}, m.payload());
      assertEquals(2, m.fds().length);
      for (int i = 0; i < 2; i++) {
        assertNotEquals(carried[i], m.fds()[i]); // new numbers for the same sockets
      }
      // The received copies work: a message through them goes from one to the other.
      Spawn.send(m.fds()[0], new byte[] {42});
      assertArrayEquals(new byte[] {42}, Spawn.receive(carried[1], 8, 0).payload());
      assertArrayEquals(new byte[] {4}, Spawn.receive(pair[1], 64, 4).payload());
      for (int fd : m.fds()) {
        Spawn.close(fd);
      }
    } finally {
      Spawn.close(carried[0]);
      Spawn.close(carried[1]);
    }
  }

  @Test
  void receive_afterThePeerClosed_isEndOfFile() throws Exception {
    Spawn.close(pair[0]);
    pair[0] = -1;
    assertNull(Spawn.receive(pair[1], 64, 4));
  }

  @Test
  void receive_tooLargeAMessage_failsAndClosesItsFds() throws Exception {
    Spawn.send(pair[0], new byte[100]);
    assertThrows(NativeError.class, () -> Spawn.receive(pair[1], 10, 0));
  }

  @Test
  void shutdown_wakesABlockedReceive() throws Exception {
    CompletableFuture<Spawn.Message> r = CompletableFuture.supplyAsync(() -> {
      try {
        return Spawn.receive(pair[1], 64, 0);
      } catch (NativeError e) {
        throw new IllegalStateException(e);
      }
    });
    Spawn.shutdown(pair[1]);
    assertNull(r.get(10, TimeUnit.SECONDS));
  }
}
