package io.mm1j.eval;

import io.mm1j.Mm1Exception;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Draws the demonstrations of a few-shot prompt from the training pool (MM1 §4: "demonstrations drawn from the
 * task's training set"). The draw for a query depends only on (seed, query id), not on the query's position or on
 * {@code --limit}, so a subset run sees exactly the prompts of the full run. A demonstration never shows the
 * query's picture (that would leak the answer) and is never repeated within one prompt.
 */
public final class DemoSampler {
    private final List<EvalExample> pool;
    private final long seed;

    public DemoSampler(List<EvalExample> pool, long seed) {
        this.pool = List.copyOf(pool);
        this.seed = seed;
    }

    /** {@code shots} demonstrations for {@code query}, in prompt order. */
    public List<EvalExample> sample(EvalExample query, int shots) {
        if (shots == 0) {
            return List.of();
        }
        SplittableRandom rnd = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + query.id().hashCode());
        List<EvalExample> out = new ArrayList<>(shots);
        Set<Integer> used = new HashSet<>();
        Set<String> images = new HashSet<>();
        // Rejection sampling keeps a draw O(shots) on COCO-sized pools; the bounded attempts fall back to an
        // explicit candidate list when the pool is small or mostly the query's own picture.
        for (int attempt = 0; attempt < 64 * shots && out.size() < shots; attempt++) {
            int i = rnd.nextInt(pool.size());
            EvalExample e = pool.get(i);
            if (!e.imageKey().equals(query.imageKey()) && !images.contains(e.imageKey()) && used.add(i)) {
                images.add(e.imageKey());
                out.add(e);
            }
        }
        if (out.size() < shots) {
            List<EvalExample> candidates = new ArrayList<>();
            for (EvalExample e : pool) {
                if (!e.imageKey().equals(query.imageKey()) && !images.contains(e.imageKey())) {
                    candidates.add(e);
                    images.add(e.imageKey());
                }
            }
            if (out.size() + candidates.size() < shots) {
                throw new Mm1Exception("query " + query.id() + ": only " + (out.size() + candidates.size())
                        + " demonstration image(s) other than the query's are available, " + shots + " shots asked");
            }
            while (out.size() < shots) {
                out.add(candidates.remove(rnd.nextInt(candidates.size())));
            }
        }
        return out;
    }
}
