package io.condense.it;

import io.condense.server.bus.EmbeddedKafka;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * A Kafka broker as a process of its own, standing in for a cluster that Condense processes join with
 * {@code --kafka-bootstrap}: {@code KafkaBrokerMain LOG_FOLDER PORT}. Started again on the same folder and port it
 * keeps every record. Stops on SIGTERM (closing the broker), or dies on kill -9.
 */
public final class KafkaBrokerMain {
    /** Printed, followed by the bootstrap address, once the broker accepts connections. */
    static final String READY = "Kafka broker ready on ";

    private KafkaBrokerMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        if (args.length != 2) {
            System.err.println("usage: KafkaBrokerMain LOG_FOLDER PORT");
            System.exit(2);
        }
        EmbeddedKafka broker = EmbeddedKafka.start(Path.of(args[0]), Integer.parseInt(args[1]));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            broker.close();
            stopped.countDown();
        }, "kafka-broker-shutdown"));
        System.out.println(READY + broker.bootstrapServers());
        System.out.flush();
        stopped.await();
    }
}
