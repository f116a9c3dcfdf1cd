package io.reactorfuse.recovery;

import io.reactorfuse.FuseServer;
import java.nio.file.Path;
import java.util.List;

/**
 * A supervisor in a process of its own, for the test that signals it: {@code SupervisorMain
 * MOUNT_POINT STATE_DIR}. Prints {@code worker PID} once the first worker serves, then waits
 * for the end of the supervision (a SIGTERM runs the shutdown hook, which stops it).
 */
public final class SupervisorMain {
  private SupervisorMain() {}

  public static void main(String[] args) throws Exception {
    SupervisedMount m = Supervisor.create()
        .server(FuseServer.create().mountPoint(Path.of(args[0])))
        .workerJava(List.of(SupervisorIT.C1_ONLY), TestWorker.class.getName())
        .stateDir(Path.of(args[1]))
        .hotStandby(true)
        .start();
    while (m.standbyPid().isEmpty() && !m.termination().isDone()) {
      Thread.sleep(5); // the test kills it with a standby waiting, the harder case
    }
    System.out.println("worker " + m.workerPid() + " standby " + m.standbyPid().orElse(-1));
    System.out.flush();
    m.termination().join();
  }
}
