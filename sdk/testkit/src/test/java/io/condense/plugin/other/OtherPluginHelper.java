package io.condense.plugin.other;

/** Stands for another plugin's class in {@code PluginBoundariesRulesTest}. */
public final class OtherPluginHelper {
    private OtherPluginHelper() {
    }

    public static int help() {
        return 1;
    }
}
