package io.condense.plugin.fake;

import io.condense.plugin.other.OtherPluginHelper;

/** Calls another plugin's class: breaks the plugin boundary rules. */
public final class BorrowingTechnique {
    private BorrowingTechnique() {
    }

    public static int borrow() {
        return OtherPluginHelper.help();
    }
}
