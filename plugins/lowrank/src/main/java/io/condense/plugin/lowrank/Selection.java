package io.condense.plugin.lowrank;

/** What a rank rule gives for one layer: a {@link Choice}, or the reason the layer is left alone. */
record Selection(Choice choice, String reason) {

    static Selection of(Choice choice) {
        return new Selection(java.util.Objects.requireNonNull(choice, "choice is null"), null);
    }

    static Selection leftAlone(String reason) {
        return new Selection(null, java.util.Objects.requireNonNull(reason, "reason is null"));
    }

    boolean factorised() {
        return choice != null;
    }
}
