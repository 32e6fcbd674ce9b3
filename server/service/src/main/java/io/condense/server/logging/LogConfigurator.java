package io.condense.server.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ConfiguratorRank;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.spi.ContextAwareBase;
import java.util.Map;

/**
 * The logging of every {@code condense} command, set up in code (found by logback through
 * {@code META-INF/services}): one line per event on stderr, at the level of the {@code condense.log.level} property
 * (INFO by default; the command line sets WARN for every command but {@code serve}), with Kafka's, PF4J's and gRPC's own
 * chatter kept to warnings. It replaces a {@code logback.xml}: parsing that XML (logback's Joran configurator and the
 * JDK's SAX parser) was about a fifth of the Java time of a {@code compress --server} run, more than the configuration
 * deserves. {@code -Dlogback.configurationFile=FILE} still configures logging from a file of one's own.
 */
@ConfiguratorRank(ConfiguratorRank.CUSTOM_HIGH_PRIORITY)
public final class LogConfigurator extends ContextAwareBase implements Configurator {
    /** The system property that names the root level. */
    public static final String LEVEL_PROPERTY = "condense.log.level";

    /** Loggers whose level differs from the root's: libraries that log their normal operation at INFO. */
    static final Map<String, Level> LIBRARY_LEVELS = Map.of(
            "org.apache.kafka", Level.WARN,
            // expected on a fresh embedded broker and at its shutdown
            "org.apache.kafka.controller.QuorumController", Level.ERROR,
            "org.apache.kafka.clients.NetworkClient", Level.ERROR,
            "kafka", Level.WARN,
            "state.change.logger", Level.WARN,
            // PluginHost reports every plugin that cannot load, with id, version and path
            "org.pf4j", Level.ERROR,
            "io.grpc", Level.WARN,
            "io.netty", Level.WARN);

    @Override
    public ExecutionStatus configure(LoggerContext context) {
        if (System.getProperty("logback.configurationFile") != null) {
            return ExecutionStatus.INVOKE_NEXT_IF_ANY;
        }
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(context);
        encoder.setPattern("%d{HH:mm:ss.SSS} %-5level %logger{20} - %msg%n");
        encoder.start();
        ConsoleAppender<ILoggingEvent> appender = new ConsoleAppender<>();
        appender.setContext(context);
        appender.setName("STDERR");
        appender.setTarget("System.err");
        appender.setEncoder(encoder);
        appender.start();
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.toLevel(System.getProperty(LEVEL_PROPERTY), Level.INFO));
        root.addAppender(appender);
        LIBRARY_LEVELS.forEach((name, level) -> context.getLogger(name).setLevel(level));
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }
}
