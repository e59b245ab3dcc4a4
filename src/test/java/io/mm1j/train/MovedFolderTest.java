package io.mm1j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Paths of a moved sweep's sub-run config are read against the folder's new place, and only those. */
class MovedFolderTest {
    private static JsonNode json(String s) throws Exception {
        return RunConfig.JSON.readTree(s.replace('\'', '"'));
    }

    @Test
    void pathsUnderTheOldFolderMoveUnderTheNewOneAndOthersStay() throws Exception {
        JsonNode saved = json("{'tokenizer': '/old/abl/shared/tokenizer.json', 'data': {'synthetic_dir': "
                + "'/old/abl/shared/worlds/s0', 'sources': [{'path': '/corpus/text.txt'}]}, 'model': {'preset': 'mini'}}");
        JsonNode wanted = json("{'tokenizer': '/new/place/abl/shared/tokenizer.json', 'data': {'synthetic_dir': "
                + "'/new/place/abl/shared/worlds/s0', 'sources': [{'path': '/corpus/text.txt'}]}, 'model': {'preset': "
                + "'mini'}}");
        assertEquals(wanted, MovedFolder.reRooted(saved, wanted, Path.of("/new/place/abl")));
    }

    /** A file that differs in the folder (another world) is no move: the difference stays for the caller to name. */
    @Test
    void anotherFileOrAnUnmovedFolderIsLeftAsSaved() throws Exception {
        JsonNode saved = json("{'data': {'synthetic_dir': '/old/abl/shared/worlds/s1'}}");
        JsonNode wanted = json("{'data': {'synthetic_dir': '/new/abl/shared/worlds/s0'}}");
        assertSame(saved, MovedFolder.reRooted(saved, wanted, Path.of("/new/abl")));
        JsonNode same = json("{'tokenizer': '/new/abl/shared/tokenizer.json'}");
        assertSame(same, MovedFolder.reRooted(same, same, Path.of("/new/abl")));
    }

    /** Two paths that place the old folder in two places: no single move explains them, nothing is moved. */
    @Test
    void disagreeingOldLocationsMoveNothing() throws Exception {
        JsonNode saved = json("{'tokenizer': '/a/abl/shared/tokenizer.json', 'data': {'synthetic_dir': "
                + "'/b/abl/shared/worlds/s0'}}");
        JsonNode wanted = json("{'tokenizer': '/n/abl/shared/tokenizer.json', 'data': {'synthetic_dir': "
                + "'/n/abl/shared/worlds/s0'}}");
        assertSame(saved, MovedFolder.reRooted(saved, wanted, Path.of("/n/abl")));
    }
}
