package io.mm1j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MixtureSamplerTest {
    static MixtureSampler.Source counting(String name, double w, int n) {
        return new MixtureSampler.Source(name, w, () -> IntStream.range(0, n)
                .mapToObj(i -> (Sample) new Sample.Text(name + i, name + " " + i)).iterator());
    }

    static List<MixtureSampler.Source> mm1Like() {
        return List.of(counting("interleaved", 0.45, 7), counting("captions", 0.45, 5), counting("text", 0.10, 3));
    }

    @Test
    void proportionsFollowTheWeights() {
        try (MixtureSampler m = new MixtureSampler(mm1Like(), 1)) {
            int[] n = new int[3];
            for (int i = 0; i < 20000; i++) {
                String id = m.next().id();
                n[id.startsWith("i") ? 0 : id.startsWith("c") ? 1 : 2]++;
            }
            assertEquals(0.45, n[0] / 20000.0, 0.015);
            assertEquals(0.45, n[1] / 20000.0, 0.015);
            assertEquals(0.10, n[2] / 20000.0, 0.01);
        }
    }

    static List<String> take(MixtureSampler m, int n) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(m.next().id());
        }
        return out;
    }

    @Test
    void deterministicPerSeedAndResumableFromACursor() {
        List<String> full;
        try (MixtureSampler m = new MixtureSampler(mm1Like(), 7)) {
            full = take(m, 60); // crosses several epochs of each source
        }
        MixtureSampler.Cursor c;
        List<String> head;
        try (MixtureSampler m = new MixtureSampler(mm1Like(), 7)) {
            head = take(m, 23);
            c = m.cursor();
        }
        assertEquals(full.subList(0, 23), head);
        try (MixtureSampler r = MixtureSampler.resume(mm1Like(), 7, c)) {
            assertEquals(full.subList(23, 60), take(r, 37));
        }
        try (MixtureSampler other = new MixtureSampler(mm1Like(), 8)) {
            assertTrue(!take(other, 60).equals(full));
        }
    }

    @TempDir
    Path dir;

    @Test
    void pipelineBatchesResumeExactlyAndDoNotDependOnWorkerCount() {
        Path synth = dir.resolve("s");
        SynthWriter.write(synth, 12, 16, 3);
        List<MixtureSampler.Source> sources = List.of(
                new MixtureSampler.Source("interleaved", 0.45, () -> new InterleavedReader(
                        synth.resolve("interleaved/train.jsonl"), ImageStore.open(synth.resolve(
                        "interleaved/images/train")), SkipReport.strict())),
                new MixtureSampler.Source("captions", 0.45, () -> new CocoCaptionsReader(
                        synth.resolve("coco/captions_train.json"), synth.resolve("images/train"), SkipReport.strict())),
                new MixtureSampler.Source("text", 0.10, () -> new TextReader(synth.resolve("text/train.txt"), 200,
                        SkipReport.strict())));
        SampleEncoder enc = new SampleEncoder(t -> t.chars().mapToLong(ch -> 8 + (ch & 0xFF)).toArray(),
                SampleEncoder.resizeToUnit(8));
        SequencePacker.Config cfg = new SequencePacker.Config(2, 96, 4, 4);
        List<Batch> full = new ArrayList<>();
        try (DataPipeline p = new DataPipeline(new MixtureSampler(sources, 5), enc, new SequencePacker(cfg), 2, 2)) {
            for (int i = 0; i < 6; i++) {
                full.add(p.next());
            }
        }
        try (DataPipeline p = new DataPipeline(new MixtureSampler(sources, 5), enc, new SequencePacker(cfg), 1, 1)) {
            for (int i = 0; i < 3; i++) {
                assertArrayEquals(full.get(i).tokens(), p.next().tokens());
            }
        }
        MixtureSampler.Cursor c = full.get(2).cursor();
        try (DataPipeline p = new DataPipeline(MixtureSampler.resume(sources, 5, c), enc, new SequencePacker(cfg),
                2, 2)) {
            for (int i = 3; i < 6; i++) {
                Batch b = p.next();
                assertArrayEquals(full.get(i).tokens(), b.tokens(), "batch " + i);
                assertArrayEquals(full.get(i).lossMask(), b.lossMask(), "batch " + i);
                assertEquals(full.get(i).images().size(), b.images().size());
            }
        }
        assertEquals(3 * 8 * 8, full.get(0).images().get(0).pixels().length);
        assertTrue(full.stream().mapToLong(Batch::trainedTokens).sum() > 0);
    }
}
