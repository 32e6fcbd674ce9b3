package io.condense.server.logging;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.core.ConsoleAppender;
import org.junit.jupiter.api.Test;

/** The logging set up in code: stderr, the root level from condense.log.level, libraries at WARN or ERROR. */
class LogConfiguratorTest {

    @Test
    void logsToStandardErrorAtTheLevelTheCommandLineSets() {
        String before = System.getProperty(LogConfigurator.LEVEL_PROPERTY);
        System.setProperty(LogConfigurator.LEVEL_PROPERTY, "WARN");
        try {
            LoggerContext context = new LoggerContext();
            LogConfigurator configurator = new LogConfigurator();
            configurator.setContext(context);
            assertThat(configurator.configure(context)).isEqualTo(Configurator.ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY);
            Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
            assertThat(root.getLevel()).isEqualTo(Level.WARN);
            assertThat(root.getAppender("STDERR")).isInstanceOfSatisfying(ConsoleAppender.class,
                    appender -> assertThat(appender.getTarget()).isEqualTo("System.err"));
            assertThat(context.getLogger("org.apache.kafka.clients.NetworkClient").getEffectiveLevel()).isEqualTo(Level.ERROR);
            assertThat(context.getLogger("org.apache.kafka.clients.consumer.KafkaConsumer").getEffectiveLevel()).isEqualTo(Level.WARN);
            assertThat(context.getLogger("io.condense.server.platform.CondensePlatform").getEffectiveLevel()).isEqualTo(Level.WARN);
        } finally {
            if (before == null) {
                System.clearProperty(LogConfigurator.LEVEL_PROPERTY);
            } else {
                System.setProperty(LogConfigurator.LEVEL_PROPERTY, before);
            }
        }
    }

    @Test
    void theServerLogsAtInfoWhenNothingIsSet() {
        String before = System.getProperty(LogConfigurator.LEVEL_PROPERTY);
        System.clearProperty(LogConfigurator.LEVEL_PROPERTY);
        try {
            LoggerContext context = new LoggerContext();
            LogConfigurator configurator = new LogConfigurator();
            configurator.setContext(context);
            configurator.configure(context);
            assertThat(context.getLogger(Logger.ROOT_LOGGER_NAME).getLevel()).isEqualTo(Level.INFO);
            assertThat(context.getLogger("org.pf4j.DefaultPluginManager").getEffectiveLevel()).isEqualTo(Level.ERROR);
        } finally {
            if (before != null) {
                System.setProperty(LogConfigurator.LEVEL_PROPERTY, before);
            }
        }
    }
}
