package io.mm1j.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GqaReaderTest {
    @TempDir
    Path dir;

    @Test
    void onlyBalancedQuestionsAreEvaluated() throws Exception {
        Files.write(dir.resolve("n1.jpg"), new byte[] {1});
        Files.write(dir.resolve("n2.jpg"), new byte[] {1});
        Path q = dir.resolve("questions.json");
        Files.writeString(q, "{\"a\": {\"imageId\": \"n1\", \"question\": \"Is it red?\", \"answer\": \"yes\", "
                + "\"isBalanced\": true}, \"b\": {\"imageId\": \"n2\", \"question\": \"What is it?\", \"answer\": "
                + "\"cup\", \"isBalanced\": false}, \"c\": {\"imageId\": \"n2\", \"question\": \"Where?\", "
                + "\"answer\": \"left\"}}");
        List<EvalExample> ex = BenchmarkReaders.gqa(q, dir);
        assertEquals(List.of("a", "c"), ex.stream().map(EvalExample::id).toList());
        assertEquals(List.of("left"), ex.get(1).targets());
    }
}
