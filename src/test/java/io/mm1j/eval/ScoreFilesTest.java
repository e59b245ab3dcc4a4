package io.mm1j.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mm1j.cli.ScoreCommand;
import io.mm1j.Mm1Exception;
import io.mm1j.data.CocoCaptionsReader;
import io.mm1j.data.VqaReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Official file formats through {@code mm1 score}, and the one-line errors for bad results files. */
class ScoreFilesTest {
    @TempDir
    Path tmp;

    private static final String REFS = "{\"images\": [{\"id\": 1}, {\"id\": 2}], \"annotations\": ["
            + "{\"image_id\": 1, \"id\": 10, \"caption\": \"A red bus parked.\"},"
            + "{\"image_id\": 2, \"id\": 11, \"caption\": \"Two dogs play outside!\"}]}";
    private static final String QUESTIONS = "{\"questions\": [{\"question_id\": 7, \"image_id\": 1, \"question\": "
            + "\"How many dogs?\"}]}";
    private static final String ANNOTATIONS = "{\"annotations\": [{\"question_id\": 7, \"image_id\": 1, "
            + "\"answer_type\": \"number\", \"question_type\": \"how many\", \"multiple_choice_answer\": \"2\", "
            + "\"answers\": [" + answers("2", 2) + "]}]}";

    private static String answers(String a, int times) {
        StringBuilder sb = new StringBuilder();
        for (int i = 1; i <= 10; i++) {
            sb.append(i > 1 ? "," : "").append("{\"answer\": \"").append(i <= times ? a : "x" + i)
                    .append("\", \"answer_id\": ").append(i).append('}');
        }
        return sb.toString();
    }

    private Path file(String name, String text) throws Exception {
        Path p = tmp.resolve(name);
        Files.writeString(p, text);
        return p;
    }

    private String run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new ScoreCommand());
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            throw ex;
        });
        assertEquals(0, cli.execute(args), err.toString());
        return out.toString();
    }

    @Test
    void scoresCaptionsWithCocoKeys() throws Exception {
        Path refs = file("refs.json", REFS);
        Path res = file("res.json", "[{\"image_id\": 1, \"caption\": \"a red bus parked\"},"
                + " {\"image_id\": 2, \"caption\": \"Two dogs play outside.\"}]");
        JsonNode o = new ObjectMapper().readTree(run("captions", "--refs", refs.toString(), "--results",
                res.toString(), "--json"));
        // candidates equal their (only) references after tokenisation: every n-gram rare → CIDEr-D 10
        assertEquals(10.0, o.get("CIDEr").asDouble(), 1e-9);
        assertEquals(1.0, o.get("Bleu_1").asDouble(), 1e-9);
        assertEquals(1.0, o.get("Bleu_4").asDouble(), 1e-9);
        assertEquals(1.0, o.get("ROUGE_L").asDouble(), 1e-9);
        assertEquals(2, o.get("images").asInt());
    }

    @Test
    void scoresVqaWithOfficialKeys() throws Exception {
        Path res = file("res.json", "[{\"question_id\": 7, \"answer\": \"2\"}]");
        JsonNode o = new ObjectMapper().readTree(run("vqa", "--questions", file("q.json", QUESTIONS).toString(),
                "--annotations", file("a.json", ANNOTATIONS).toString(), "--results", res.toString(), "--json"));
        assertEquals(60.0, o.get("overall").asDouble(), 0.0);
        assertEquals(60.0, o.get("perAnswerType").get("number").asDouble(), 0.0);
        assertEquals(60.0, o.get("perQuestionType").get("how many").asDouble(), 0.0);
        assertEquals(60.0, o.at("/perQuestion/7").asDouble(), 0.0, "the official evalQA");
        assertEquals("official", o.get("variant").asText());
    }

    @Test
    void legacyVariantIsChosenByOptionAndNamed() throws Exception {
        // ten humans wrote "2"; "Two" is normalised to "2" by the legacy code only (official compares as written)
        Path ann = file("a.json", ANNOTATIONS.replace(answers("2", 2), answers("2", 10)));
        Path res = file("res.json", "[{\"question_id\": 7, \"answer\": \"Two\"}]");
        String[] common = {"vqa", "--questions", file("q.json", QUESTIONS).toString(), "--annotations",
                ann.toString(), "--results", res.toString(), "--json"};
        JsonNode official = new ObjectMapper().readTree(run(common));
        JsonNode legacy = new ObjectMapper().readTree(run(concat(common, "--variant", "legacy")));
        assertEquals(0.0, official.get("overall").asDouble(), 0.0);
        assertEquals(100.0, legacy.get("overall").asDouble(), 0.0);
        assertEquals("legacy", legacy.get("variant").asText());
        assertTrue(legacy.get("variantSource").asText().contains("458a8b2"));
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void textOutputListsTheScores() throws Exception {
        String text = run("captions", "--refs", file("refs.json", REFS).toString(), "--results",
                file("res.json", "[{\"image_id\": 1, \"caption\": \"a bus\"}]").toString(), "--subset");
        assertTrue(text.contains("CIDEr") && text.contains("Bleu_4") && text.contains("ROUGE_L"), text);
    }

    private String error(Runnable r) {
        return assertThrows(Mm1Exception.class, r::run).getMessage();
    }

    @Test
    void badCaptionResultsNameTheFileAndTheId() throws Exception {
        Path refs = file("refs.json", REFS);
        var references = CocoCaptionsReader.readStrict(refs).references();
        Path dup = file("dup.json", "[{\"image_id\": 1, \"caption\": \"a\"}, {\"image_id\": 1, \"caption\": \"b\"}]");
        assertEquals(dup + ": entry 1: duplicate image_id 1 (one caption per image)",
                error(() -> CaptionScores.readResults(dup)));
        Path type = file("type.json", "[{\"image_id\": \"1\", \"caption\": \"a\"}]");
        assertEquals(type + ": entry 0: \"image_id\" must be an integer, got \"1\"",
                error(() -> CaptionScores.readResults(type)));
        Path noCaption = file("nocap.json", "[{\"image_id\": 1, \"caption\": 5}]");
        assertEquals(noCaption + ": entry 0: \"caption\" must be a string, got 5",
                error(() -> CaptionScores.readResults(noCaption)));
        Path missingField = file("nofield.json", "[{\"caption\": \"a\"}]");
        assertEquals(missingField + ": entry 0 has no \"image_id\"",
                error(() -> CaptionScores.readResults(missingField)));
        Path bad = file("bad.json", "[{\"image_id\": 1,");
        assertTrue(error(() -> CaptionScores.readResults(bad)).startsWith(bad + ": malformed JSON at line 1"));
        Path notList = file("obj.json", "{\"image_id\": 1}");
        assertEquals(notList + ": a results file must be a JSON array", error(() -> CaptionScores.readResults(notList)));
        Path one = file("one.json", "[{\"image_id\": 1, \"caption\": \"a\"}]");
        assertEquals(one + ": no caption for image_id 2 (use --subset to score only the images present)",
                error(() -> CaptionScores.evaluate(references, CaptionScores.readResults(one), one, false)));
        Path extra = file("extra.json", "[{\"image_id\": 9, \"caption\": \"a\"}]");
        assertEquals(extra + ": image_id 9 is not in the references",
                error(() -> CaptionScores.evaluate(references, CaptionScores.readResults(extra), extra, true)));
    }

    @Test
    void badVqaResultsNameTheFileAndTheId() throws Exception {
        var anns = VqaReader.readAnnotations(file("a.json", ANNOTATIONS));
        Path missing = file("missing.json", "[]");
        assertEquals(missing + ": no answer for question_id 7",
                error(() -> VqaAccuracy.evaluate(VqaVariant.OFFICIAL, anns, null, VqaAccuracy.readResults(missing), missing)));
        Path extra = file("extra.json", "[{\"question_id\": 7, \"answer\": \"2\"}, {\"question_id\": 8, "
                + "\"answer\": \"2\"}]");
        assertEquals(extra + ": question_id 8 is not in the annotations",
                error(() -> VqaAccuracy.evaluate(VqaVariant.OFFICIAL, anns, null, VqaAccuracy.readResults(extra), extra)));
        Path dup = file("dup.json", "[{\"question_id\": 7, \"answer\": \"2\"}, {\"question_id\": 7, \"answer\": \"3\"}]");
        assertEquals(dup + ": entry 1: duplicate question_id 7", error(() -> VqaAccuracy.readResults(dup)));
        Path type = file("type.json", "[{\"question_id\": 7, \"answer\": 2}]");
        assertEquals(type + ": entry 0: \"answer\" must be a string, got 2", error(() -> VqaAccuracy.readResults(type)));
        Path absent = tmp.resolve("absent.json");
        assertEquals(absent + ": file not found", error(() -> VqaAccuracy.readResults(absent)));
    }
}
