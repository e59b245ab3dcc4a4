package io.mm1j.llm;

import io.mm1j.Mm1Exception;

/**
 * An int8 {@link WeightMatrix} with one float32 scale per group of {@code group} consecutive columns of a row
 * (symmetric absmax quantisation, as llama.cpp's Q8_0 with its block of 32): {@code W[r, k] ≈ q[r, k] · s[r, k / group]}
 * with {@code s = max|W[r, group]| / 127} and {@code q = rint(W / s)} in [-127, 127], so every value is off by at
 * most s / 2. The last group of a row is shorter when cols is not a multiple of the group size. The dot product
 * multiplies the int8 values as floats and applies each group's scale once ({@link Int8Dot}).
 */
public final class Int8Matrix implements WeightMatrix {
    /** llama.cpp Q8_0's block: small enough that one outlier costs little precision, large enough to be cheap. */
    public static final int DEFAULT_GROUP = 32;

    private final byte[] q; // (rows, rowBytes): the kernel's storage
    private final int rowBytes; // bytes per row of q: cols, or whole blocks when the row's tail is padded to one
    // (rows, kernelGroups): file order without blocks; with them the blocks' scales in slot order, zeros for a
    // padded tail ({@link #scale} reads them in file order)
    private final float[] kernelScales;
    private final int kernelGroups;
    private final int rows;
    private final int cols;
    private final int group;
    private final int groups;
    private final int blocks; // leading blocks of each row in the kernel's lanes-are-groups layout (0: none)

    /**
     * Tests only: pad every row with groups of 32 to whole blocks, however narrow, so that a small real model (the
     * 64-wide stories260K) is multiplied through the int8 × int8 block kernel and its quality can be measured.
     */
    static volatile boolean padEveryRow;

    /** Per thread: inputs quantised for the products that are not handed prepared ones (grown on demand). */
    private static final ThreadLocal<Inputs> QUANTIZED_INPUTS = ThreadLocal.withInitial(Inputs::new);

    /**
     * Inputs quantised to int8 for the block kernel as {@link Int8Dot#quantizeInputs} writes them (values in the block
     * layout, one scale per group), by {@link #prepare}: valid for the products of every int8 matrix of the same
     * width and blocks with the same inputs, so a decode step quantises each input once for all the matrices that
     * read it (q, k and v; gate and up) and all threads.
     */
    public static final class Inputs {
        private short[] values = new short[0];
        private float[] scales = new float[0];
        private int cols = -1;
        private int blocks;
        private int count;
    }

    /**
     * Takes over quantised values (not copied). With groups of 32 and the SIMD kernel in use, each row's leading
     * whole blocks of {@link Int8Dot#BLOCK_COLS} columns are rearranged in place into the kernel's
     * lanes-are-groups layout (lane g of a vector of 16 holds group g's k-th value), so one vector operation covers
     * 16 groups, and their scales are kept in the kernel's order too; {@link #values()} and {@link #scales()} give
     * them back in file order. Such rows are multiplied by the input quantised to int8 per group of 32, as llama.cpp
     * multiplies Q8_0 weights ({@link Int8Dot#blockedRows}); rows narrower than a block by the float input. When a
     * row ends in a partial block and padding it to a whole one adds at most 25% (FFN 1376 = 2 blocks + 352 → 3
     * blocks), the rows are copied into a padded array instead, zeros (and zero scales) past the last column.
     *
     * @param q      (rows, cols) int8 values
     * @param scales (rows, ceil(cols / group)) finite, non-negative scales
     */
    public Int8Matrix(byte[] q, float[] scales, int rows, int cols, int group) {
        if (group < 1) {
            throw new Mm1Exception("int8 group size must be >= 1, got " + group);
        }
        this.groups = groups(cols, group);
        if (q.length != (long) rows * cols) {
            throw new Mm1Exception(q.length + " int8 values do not make (" + rows + ", " + cols + ")");
        }
        if (scales.length != (long) rows * groups) {
            throw new Mm1Exception(scales.length + " scales do not make (" + rows + ", " + groups + ") = (rows, ceil("
                    + cols + " / group size " + group + "))");
        }
        for (int i = 0; i < scales.length; i++) {
            if (!(scales[i] >= 0) || Float.isInfinite(scales[i])) {
                throw new Mm1Exception("scale " + scales[i] + " at (" + i / groups + ", " + i % groups
                        + ") is not a finite number >= 0");
            }
        }
        this.rows = rows;
        this.cols = cols;
        this.group = group;
        boolean kernel = group == 32 && Int8Dot.BLOCK_COLS > 0;
        int whole = kernel ? cols / Int8Dot.BLOCK_COLS : 0;
        int padded = whole + 1;
        if (kernel && cols % Int8Dot.BLOCK_COLS != 0
                && (padEveryRow || whole > 0 && (long) padded * Int8Dot.BLOCK_COLS * 4 <= 5L * cols)) {
            // a tail of a row (e.g. FFN 1376 = 2 blocks + 352) padded with zeros to one more block: ≤ 25% more
            // products, all in the blocked kernel, instead of a group-by-group loop that is 3–4× slower per value
            this.blocks = padded;
            this.rowBytes = padded * Int8Dot.BLOCK_COLS;
            this.q = new byte[rows * rowBytes];
            this.kernelGroups = rowBytes / 32;
            this.kernelScales = new float[rows * kernelGroups];
            for (int r = 0; r < rows; r++) {
                for (int k = 0; k < cols; k++) {
                    this.q[r * rowBytes + Int8Dot.column(k, blocks)] = q[r * cols + k];
                }
                kernelScales(scales, r * groups, kernelScales, r * kernelGroups, groups, blocks);
            }
            return;
        }
        this.q = q;
        this.rowBytes = cols;
        this.blocks = whole;
        this.kernelGroups = groups;
        this.kernelScales = blocks > 0 ? new float[scales.length] : scales;
        if (blocks > 0) {
            byte[] natural = new byte[blocks * Int8Dot.BLOCK_COLS];
            for (int r = 0; r < rows; r++) {
                System.arraycopy(q, r * cols, natural, 0, natural.length);
                for (int k = 0; k < natural.length; k++) {
                    q[r * cols + Int8Dot.column(k, blocks)] = natural[k];
                }
                kernelScales(scales, r * groups, kernelScales, r * groups, groups, blocks);
            }
        }
    }

    /**
     * One row's scales in the kernel's order: each whole block's 16 in {@link VectorInt8Dot#scaleSlot} order, the
     * rest (a natural tail) as they are; zeros stay zeros past {@code n} scales (a padded tail).
     */
    private static void kernelScales(float[] s, int so, float[] out, int oo, int n, int blocks) {
        System.arraycopy(s, so, out, oo, n);
        for (int b = 0; b < blocks; b++) {
            for (int g = 0; g < Int8Dot.BLOCK_GROUPS; g++) {
                int file = b * Int8Dot.BLOCK_GROUPS + g;
                out[oo + b * Int8Dot.BLOCK_GROUPS + VectorInt8Dot.scaleSlot(g)] = file < n ? s[so + file] : 0f;
            }
        }
    }

    /**
     * Leading columns of each row multiplied by the input quantised to int8 (whole blocks, capped at cols); the rest
     * by the float input.
     */
    int blockedColumns() {
        return Math.min(cols, blocks * Int8Dot.BLOCK_COLS);
    }

    /** Scales per row: ceil(cols / group). */
    public static int groups(int cols, int group) {
        return (cols + group - 1) / group;
    }

    /**
     * Quantises {@code w} (rows, cols) row-major with one scale per {@code group} columns.
     *
     * @throws Mm1Exception on a non-finite value (naming its position)
     */
    public static Int8Matrix quantize(float[] w, int rows, int cols, int group) {
        if (group < 1) {
            throw new Mm1Exception("int8 group size must be >= 1, got " + group);
        }
        int groups = groups(cols, group);
        byte[] q = new byte[rows * cols];
        float[] s = new float[rows * groups];
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < groups; g++) {
                int from = r * cols + g * group;
                int to = r * cols + Math.min(cols, (g + 1) * group);
                float amax = 0;
                for (int i = from; i < to; i++) {
                    if (!Float.isFinite(w[i])) {
                        throw new Mm1Exception("cannot quantise: value " + w[i] + " at (" + r + ", " + (i - r * cols)
                                + ")");
                    }
                    amax = Math.max(amax, Math.abs(w[i]));
                }
                float scale = amax / 127f;
                float inv = scale == 0 ? 0 : 1f / scale;
                boolean divide = Float.isInfinite(inv); // a subnormal scale (max|w| < ~3.7e-37): 1 / scale overflows
                for (int i = from; i < to; i++) {
                    q[i] = (byte) Math.max(-127, Math.min(127, Math.rint(divide ? w[i] / scale : w[i] * inv)));
                }
                s[r * groups + g] = scale;
            }
        }
        return new Int8Matrix(q, s, rows, cols, group);
    }

    /** The int8 values in file order, (rows, cols) row-major: a copy when rows are kept in the kernel layout. */
    public byte[] values() {
        if (blocks == 0) {
            return q;
        }
        byte[] out = new byte[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < cols; k++) {
                out[r * cols + k] = q[r * rowBytes + Int8Dot.column(k, blocks)];
            }
        }
        return out;
    }

    /** The scales, (rows, ceil(cols / group)) row-major: a copy when rows are kept in the kernel layout. */
    public float[] scales() {
        if (blocks == 0) {
            return kernelScales;
        }
        float[] out = new float[rows * groups];
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < groups; g++) {
                out[r * groups + g] = scale(r, g);
            }
        }
        return out;
    }

    /** The scale of group g (file order) of row r. */
    private float scale(int r, int g) {
        int slot = g < blocks * Int8Dot.BLOCK_GROUPS
                ? g - g % Int8Dot.BLOCK_GROUPS + VectorInt8Dot.scaleSlot(g % Int8Dot.BLOCK_GROUPS) : g;
        return kernelScales[r * kernelGroups + slot];
    }

    /** Columns per scale. */
    public int group() {
        return group;
    }

    /** All values dequantised, (rows, cols) row-major. */
    public float[] dequantize() {
        float[] out = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            row(r, out, r * cols);
        }
        return out;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    @Override
    public float dot(int row, float[] x, int xo) {
        if (blocks == 0) {
            return Int8Dot.dot(q, row * cols, kernelScales, row * groups, group, x, xo, cols);
        }
        java.util.Objects.checkIndex(row, rows);
        java.util.Objects.checkFromIndexSize(xo, cols, x.length);
        Inputs in = quantize(x, xo, 1, QUANTIZED_INPUTS.get());
        return Int8Dot.blockedRow(q, kernelScales, rowBytes, blocks, row, x, xo, in.values, 0, in.scales, 0);
    }

    /**
     * The leading blocks of b inputs (x[xo + i · cols ..]) quantised to int8 per group of 32 in the kernel layout
     * (input i's values at i · width, its scales at i · blocks · {@link Int8Dot#BLOCK_GROUPS}) into {@code in}'s
     * arrays, grown when too small.
     */
    private Inputs quantize(float[] x, int xo, int b, Inputs in) {
        int width = blocks * Int8Dot.BLOCK_COLS;
        int groupsPerInput = blocks * Int8Dot.BLOCK_GROUPS;
        if (in.values.length < b * width) {
            in.values = new short[b * width];
            in.scales = new float[b * groupsPerInput];
        }
        for (int i = 0; i < b; i++) {
            Int8Dot.quantizeInputs(x, xo + i * cols, blocks, cols, in.values, i * width, in.scales,
                    i * groupsPerInput);
        }
        in.cols = cols;
        in.blocks = blocks;
        in.count = b;
        return in;
    }

    @Override
    public Inputs prepare(float[] x, int xo, int b, Inputs reuse) {
        if (blocks == 0) {
            return null;
        }
        java.util.Objects.checkFromIndexSize(xo, (long) b * cols > Integer.MAX_VALUE ? -1 : b * cols, x.length);
        return quantize(x, xo, b, reuse == null ? new Inputs() : reuse);
    }

    @Override
    public void dots(int from, int to, float[] x, int xo, float[] out, int oo) {
        dots(from, to, x, xo, 1, null, out, oo);
    }

    @Override
    public void dots(int from, int to, float[] x, int xo, int b, float[] out, int oo) {
        dots(from, to, x, xo, b, null, out, oo);
    }

    @Override
    public void dots(int from, int to, float[] x, int xo, int b, Inputs prepared, float[] out, int oo) {
        WeightMatrix.checkDots(this, from, to, x, xo, b, out, oo);
        if (from >= to || b < 1) {
            return;
        }
        int tile = b == 1 ? to - from : TILE_ROWS; // each tile of weights meets every input while it is cached
        if (blocks == 0) {
            for (int t = from; t < to; t += tile) {
                int end = Math.min(to, t + tile);
                for (int i = 0; i < b; i++) {
                    Int8Dot.dots(q, kernelScales, group, cols, t, end, x, xo + i * cols, out, oo + i * rows, i > 0);
                }
            }
            return;
        }
        Inputs in = prepared;
        if (in == null) {
            in = quantize(x, xo, b, QUANTIZED_INPUTS.get()); // each input quantised once, not once per tile
        } else if (in.cols != cols || in.blocks != blocks || in.count < b) {
            throw new IllegalArgumentException("inputs prepared for " + in.count + " x " + in.cols + " columns in "
                    + in.blocks + " blocks, not " + b + " x " + cols + " in " + blocks);
        }
        int width = blocks * Int8Dot.BLOCK_COLS;
        int groupsPerInput = blocks * Int8Dot.BLOCK_GROUPS;
        for (int t = from; t < to; t += tile) {
            int end = Math.min(to, t + tile);
            for (int i = 0; i < b; i++) {
                // the first input streams the tile from memory, one row after the other; the tile is cached for the
                // others, which take two rows per pass (see Int8Dot.blockedRows)
                Int8Dot.blockedRows(q, kernelScales, rowBytes, blocks, t, end, x, xo + i * cols, in.values, i * width,
                        in.scales, i * groupsPerInput, out, oo + i * rows, i > 0);
            }
        }
    }

    @Override
    public void row(int row, float[] out, int off) {
        int base = row * rowBytes;
        float s = 0;
        for (int k = 0; k < cols; k++) {
            if (k % group == 0) {
                s = scale(row, k / group);
            }
            out[off + k] = q[base + Int8Dot.column(k, blocks)] * s;
        }
    }

    @Override
    public void panel(int n, int width, int stride, float[] out) {
        // k outer: sequential writes (as F32Matrix.panel); each value dequantised once, each scale looked up once
        float[] s = new float[width];
        for (int kk = 0; kk < cols; kk++) {
            int o = kk * stride;
            if (kk % group == 0) {
                for (int j = 0; j < width; j++) {
                    s[j] = scale(n + j, kk / group);
                }
            }
            int at = Int8Dot.column(kk, blocks);
            for (int j = 0; j < width; j++) {
                out[o + j] = q[(n + j) * rowBytes + at] * s[j];
            }
            for (int j = width; j < stride; j++) {
                out[o + j] = 0f;
            }
        }
    }

    @Override
    public long bytes() {
        return q.length + 4L * kernelScales.length;
    }
}
