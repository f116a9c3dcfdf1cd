package io.reactorfuse.samples;

import io.reactorfuse.FuseMount;
import io.reactorfuse.FuseServer;
import io.reactorfuse.samples.hello.HelloFs;
import java.nio.file.Path;

public class Samples {
  public static void main(String[] args) {
    FuseMount m = FuseServer.create().mountPoint(Path.of(args[0])).handle(new HelloFs())
        .debug(args.length > 1).mountNow();
    System.err.println("mounted " + m.init());
    m.onDispose().block();
    System.err.println("unmounted");
  }
}
