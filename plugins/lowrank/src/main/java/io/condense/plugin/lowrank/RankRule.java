package io.condense.plugin.lowrank;

/** How a layer's rank is chosen: a fixed rank, a share of squared singular values to keep, or a parameter ratio. */
sealed interface RankRule {

    /** Exactly this rank (for Tucker-2: this rank on both channel modes). */
    record Fixed(int rank) implements RankRule {
        public Fixed {
            if (rank < 1) {
                throw new IllegalArgumentException("rank must be at least 1, got " + rank);
            }
        }

        @Override
        public String toString() {
            return "rank=" + rank;
        }
    }

    /** The smallest rank whose singular values keep at least this share of the squared Frobenius norm. */
    record Energy(double share) implements RankRule {
        public Energy {
            if (!(share > 0 && share <= 1)) {
                throw new IllegalArgumentException("energy share must be in (0, 1], got " + share);
            }
        }

        @Override
        public String toString() {
            return "energy=" + share;
        }
    }

    /** The largest rank whose factors hold at most this share of the layer's weight parameters. */
    record Ratio(double ratio) implements RankRule {
        public Ratio {
            if (!(ratio > 0 && ratio < 1)) {
                throw new IllegalArgumentException("ratio must be in (0, 1), got " + ratio);
            }
        }

        @Override
        public String toString() {
            return "ratio=" + ratio;
        }
    }
}
