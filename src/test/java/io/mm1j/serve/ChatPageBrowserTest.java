package io.mm1j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The chat page in a real headless Chromium: type a question, attach an image, send, and watch the answer stream
 * into the page; screenshots before and after must differ and the answer bubble must show drawn text. Skipped (with
 * how to install it) where Chromium and its driver are absent.
 */
class ChatPageBrowserTest {
    @TempDir
    Path tmp;

    /** The first existing executable among {@code names} on the PATH or in /usr/bin, or null. */
    static Path find(String... names) {
        String path = System.getenv().getOrDefault("PATH", "") + File.pathSeparator + "/usr/bin";
        for (String name : names) {
            for (String dir : path.split(File.pathSeparator)) {
                Path p = Path.of(dir, name);
                if (!dir.isEmpty() && Files.isExecutable(p)) {
                    return p;
                }
            }
        }
        return null;
    }

    @Test
    void anAnswerStreamsIntoThePage() throws Exception {
        Path browser = find("chromium", "chromium-browser", "google-chrome");
        Path driverBinary = find("chromedriver");
        Assumptions.assumeTrue(browser != null && driverBinary != null, "headless Chromium not found (need chromium "
                + "and chromedriver on the PATH); skipping the chat page test. Install them with: "
                + "sudo apt-get install -y chromium chromium-driver");
        Path picture = tmp.resolve("picture.png");
        Files.write(picture, Base64.getDecoder().decode(HttpTestClient.pngDataUrl(32, 32, 5).substring(22)));
        try (TinyModelServer tiny = new TinyModelServer(tmp.resolve("tiny"), ServeLimits.defaults())) {
            ChromeOptions options = new ChromeOptions();
            options.setBinary(browser.toFile());
            options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1000,700", "--user-data-dir=" + tmp.resolve("profile"));
            ChromeDriverService service = new ChromeDriverService.Builder()
                    .usingDriverExecutable(driverBinary.toFile()).usingAnyFreePort().build();
            ChromeDriver driver = new ChromeDriver(service, options);
            try {
                WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(60));
                driver.get("http://127.0.0.1:" + tiny.server.port() + "/");
                wait.until(d -> d.findElement(By.id("model")).getText().equals("model: tiny"));
                byte[] before = driver.getScreenshotAs(OutputType.BYTES);

                driver.findElement(By.id("prompt")).sendKeys("What is in this picture?");
                WebElement attach = driver.findElement(By.id("attach"));
                ((JavascriptExecutor) driver).executeScript("arguments[0].style.display='block'", attach);
                attach.sendKeys(picture.toString());
                wait.until(d -> d.findElements(By.cssSelector("#attachments img")).size() == 1);
                driver.findElement(By.id("send")).click();

                WebElement answer = wait.until(d -> {
                    List<WebElement> done = d.findElements(By.cssSelector(".msg.assistant[data-state='done']"));
                    return done.isEmpty() ? null : done.get(0);
                });
                assertEquals(List.of(), driver.findElements(By.cssSelector(".msg.error")).stream()
                        .map(WebElement::getText).toList(), "the page shows no error");
                String text = answer.findElement(By.className("content")).getText();
                assertFalse(text.isBlank(), "the streamed answer appears in the page");
                assertTrue(answer.findElement(By.className("usage")).getText().contains("(4 image)"),
                        answer.getText());
                assertEquals(1, driver.findElements(By.cssSelector(".msg.user img")).size(), "the image is shown");

                byte[] after = driver.getScreenshotAs(OutputType.BYTES);
                Files.write(Path.of("target", "chat-page-before.png"), before);
                Files.write(Path.of("target", "chat-page-after.png"), after);
                assertFalse(Arrays.equals(pixels(before), pixels(after)), "the page changed on screen");
                BufferedImage bubble = png(answer.findElement(By.className("content"))
                        .getScreenshotAs(OutputType.BYTES));
                int dark = 0;
                for (int y = 0; y < bubble.getHeight(); y++) {
                    for (int x = 0; x < bubble.getWidth(); x++) {
                        int rgb = bubble.getRGB(x, y);
                        int lum = ((rgb >> 16 & 0xff) + (rgb >> 8 & 0xff) + (rgb & 0xff)) / 3;
                        dark += lum < 128 ? 1 : 0;
                    }
                }
                assertTrue(dark >= 10, "the answer bubble shows drawn text (" + dark + " dark pixels in "
                        + bubble.getWidth() + "x" + bubble.getHeight() + "): '" + text + "'");
            } finally {
                driver.quit();
            }
        }
    }

    private static BufferedImage png(byte[] bytes) throws IOException {
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(bytes));
        assertTrue(img != null && img.getWidth() > 0, "a PNG screenshot");
        return img;
    }

    private static int[] pixels(byte[] png) throws IOException {
        BufferedImage img = png(png);
        return img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth());
    }
}
