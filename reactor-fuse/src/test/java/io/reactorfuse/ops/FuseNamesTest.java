package io.reactorfuse.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

class FuseNamesTest {

  @Test
  void decode_validUtf8_isPlainText() {
    byte[] bytes = "grüße, 世界 🙂".getBytes(StandardCharsets.UTF_8);
    assertEquals("grüße, 世界 🙂", FuseNames.decode(bytes));
    assertArrayEquals(bytes, FuseNames.encode("grüße, 世界 🙂"));
  }

  @Test
  void decode_invalidBytes_becomeEscapesThatEncodeBack() {
    byte[] bytes = {'o', 'd', 'd', (byte) 0xff, (byte) 0xfe, 'x', (byte) 0xc3};
    String name = FuseNames.decode(bytes);
    assertEquals("odd\udcff\udcfex\udcc3", name);
    assertArrayEquals(bytes, FuseNames.encode(name));
  }

  @Test
  void roundTrip_randomBytes_isExact() {
    Random random = new Random(7);
    for (int n = 0; n < 2000; n++) {
      byte[] bytes = new byte[random.nextInt(40)];
      random.nextBytes(bytes);
      assertArrayEquals(bytes, FuseNames.encode(FuseNames.decode(bytes)), () -> "round trip");
    }
  }

  @Test
  void decode_fromByteBuf_readsOnlyTheRange() {
    ByteBuf buf = Unpooled.wrappedBuffer(new byte[] {'a', 'b', (byte) 0x80, 'c', 'd'});
    try {
      assertEquals("b\udc80c", FuseNames.decode(buf, 1, 3));
      assertEquals("cd", FuseNames.decode(buf, 3, 2));
    } finally {
      buf.release();
    }
  }

  @Test
  void encodedSurrogatesInTheInput_areEscapedNotDecoded() {
    byte[] cesu = {(byte) 0xed, (byte) 0xa0, (byte) 0x80}; // a UTF-16 surrogate, invalid UTF-8
    assertArrayEquals(cesu, FuseNames.encode(FuseNames.decode(cesu)));
  }
}
