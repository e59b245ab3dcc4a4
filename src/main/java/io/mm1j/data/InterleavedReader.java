package io.mm1j.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.Mm1Exception;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

/**
 * Interleaved image-text documents, one JSON object per line, in either layout:
 * <ul>
 *   <li>mmc4: {@code text_list} (sentences) and {@code image_info[{image_name, matched_text_index, ...}]}; each
 *       image is placed immediately before the sentence it was matched to (the reading order mmc4's
 *       assignment implies, and what OpenFlamingo does);</li>
 *   <li>OBELICS: parallel {@code texts} and {@code images} lists where each position holds either a text or an
 *       image name (the other being null).</li>
 * </ul>
 * A missing image is dropped from its document (counted as "missing image"); the text stays, since it is still
 * useful interleaved/text data. mmc4's public JSONL ships without images, so this is the common case there.
 */
public final class InterleavedReader extends LineSampleReader {
    static final Set<String> MMC4_FIELDS = Set.of("url", "text_list", "image_info", "similarity_matrix",
            "could_have_url_duplicate", "doc_id");
    static final Set<String> OBELICS_FIELDS = Set.of("texts", "images", "metadata", "general_metadata", "url",
            "doc_id");

    private final ImageStore images;

    /** @param images where image names resolve (folder or tar); null when the documents' images are unavailable */
    public InterleavedReader(Path file, ImageStore images, SkipReport skips) {
        super(file, skips);
        this.images = images;
    }

    @Override
    protected Sample readNext() {
        String l;
        try {
            while ((l = nextLine()) != null) {
                if (l.isBlank()) {
                    continue;
                }
                String where = file + ":" + line;
                JsonNode doc;
                try {
                    doc = Json.MAPPER.readTree(l);
                } catch (JsonProcessingException e) {
                    skips.skip(SkipReport.CORRUPT_JSON, where, e.getOriginalMessage());
                    continue;
                }
                List<Sample.Part> parts = doc.has("text_list") ? mmc4(doc, where) : obelics(doc, where);
                if (parts == null) {
                    continue;
                }
                if (parts.isEmpty()) {
                    skips.skip(SkipReport.BAD_RECORD, where, "document has neither text nor images");
                    continue;
                }
                String id = doc.path("url").isTextual() ? doc.get("url").asText() : file.getFileName() + ":" + line;
                return new Sample.Interleaved(id, List.copyOf(parts));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(file + ":" + line, e);
        }
        return null;
    }

    private List<Sample.Part> mmc4(JsonNode doc, String where) {
        Json.checkFields(doc, MMC4_FIELDS, where, skips);
        JsonNode text = doc.get("text_list");
        JsonNode info = doc.path("image_info");
        if (!text.isArray() || !(info.isArray() || info.isMissingNode())) {
            skips.skip(SkipReport.BAD_RECORD, where, "text_list and image_info must be arrays");
            return null;
        }
        List<JsonNode> imgs = new ArrayList<>();
        for (int k = 0; k < info.size(); k++) {
            // The index places the image in the reading order; one that points at no sentence means the record
            // does not belong to this text_list (a bad merge), so the whole document is refused, not guessed at.
            JsonNode m = info.get(k).path("matched_text_index");
            if (!m.isIntegralNumber() || !m.canConvertToInt() || m.asInt() < 0 || m.asInt() >= text.size()) {
                skips.skip(SkipReport.BAD_RECORD, where, "image_info[" + k + "].matched_text_index "
                        + (m.isMissingNode() ? "missing" : m.toString()) + " is not a sentence index (text_list has "
                        + text.size() + (text.size() == 1 ? " sentence" : " sentences") + ")");
                return null;
            }
            imgs.add(info.get(k));
        }
        imgs.sort(Comparator.comparingInt(i -> i.get("matched_text_index").asInt())); // stable
        List<Sample.Part> parts = new ArrayList<>();
        int next = 0;
        for (int s = 0; s < text.size(); s++) {
            while (next < imgs.size() && imgs.get(next).get("matched_text_index").asInt() <= s) {
                addImage(parts, imgs.get(next++).path("image_name").asText(""), where);
            }
            if (!text.get(s).asText("").isBlank()) {
                parts.add(Sample.Part.text(text.get(s).asText()));
            }
        }
        return parts;
    }

    private List<Sample.Part> obelics(JsonNode doc, String where) {
        Json.checkFields(doc, OBELICS_FIELDS, where, skips);
        JsonNode texts = doc.path("texts");
        JsonNode imgs = doc.path("images");
        if (!texts.isArray() || !imgs.isArray() || texts.size() != imgs.size()) {
            skips.skip(SkipReport.BAD_RECORD, where, "needs text_list/image_info (mmc4) or equally long "
                    + "texts/images (OBELICS)");
            return null;
        }
        List<Sample.Part> parts = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            if (texts.get(i).isTextual() && !texts.get(i).asText().isBlank()) {
                parts.add(Sample.Part.text(texts.get(i).asText()));
            } else if (imgs.get(i).isTextual()) {
                String name = imgs.get(i).asText();
                addImage(parts, name.substring(name.lastIndexOf('/') + 1), where);
            }
        }
        return parts;
    }

    private void addImage(List<Sample.Part> parts, String name, String where) {
        if (images == null || name.isEmpty()) {
            skips.skip(SkipReport.MISSING_IMAGE, where, name.isEmpty() ? "(no image_name)" : name);
            return;
        }
        ImageRef ref = images.find(name, where, skips);
        if (ref != null) {
            parts.add(Sample.Part.image(ref));
        }
    }
}
