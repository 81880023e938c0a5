#!/usr/bin/python3
"""dlfsd's web browser (/ui) in a real headless Chromium, driven by Selenium (run by
tests/integration/web_ui_test.cpp, which prepared the dataset and checks the result through the
API after). Logs in, browses the datasets, a folder as a grid and as a table, pages it, opens an
item, edits its user metadata (and sees a validation error), uploads a file, a folder and a
dropped file in parallel parts, resumes a large upload that failed offline, imports a CSV, syncs a
storage driver's dataset, searches with DQL, logs out. A screenshot after every step goes to --screenshots.
Exit code 0 when every check held; the failed check on stderr otherwise."""

import argparse
import os
import shutil
import sys
import tempfile
import traceback

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

WAIT_S = 20  # every wait is bounded


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)  # http://127.0.0.1:PORT
    ap.add_argument("--token", required=True)
    ap.add_argument("--dataset", required=True)  # its name (shown escaped)
    ap.add_argument("--folder", required=True)  # a folder at the root, with a photo, a link and more
    ap.add_argument("--photo", required=True)  # a JPEG's name in that folder
    ap.add_argument("--link", required=True)  # a link item's name in that folder
    ap.add_argument("--image-link", required=True)  # a link item to an image, its thumbnail made
    ap.add_argument("--upload", required=True)  # a local file to upload into the folder
    ap.add_argument("--upload-dir", required=True)  # a local folder to upload into the folder
    ap.add_argument("--upload-dir-files", type=int, required=True)  # how many files are in it
    ap.add_argument("--big", required=True)  # a file of several parts, part 0 on the server already
    ap.add_argument("--csv", required=True)  # a CSV to import into the folder
    ap.add_argument("--sync-dataset", required=True)  # a storage driver's dataset, never synced
    ap.add_argument("--sync-object", required=True)  # a name at the root of its bucket
    ap.add_argument("--screenshots", required=True)
    a = ap.parse_args()
    os.makedirs(a.screenshots, exist_ok=True)

    profile = tempfile.mkdtemp(prefix="dlfs-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--user-data-dir=" + profile, "--window-size=1280,2000"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.set_page_load_timeout(WAIT_S)
    driver.set_script_timeout(WAIT_S)
    wait = WebDriverWait(driver, WAIT_S)
    step = [0]

    def shot(name):
        step[0] += 1
        driver.save_screenshot(os.path.join(a.screenshots, "%02d-%s.png" % (step[0], name)))

    def by_id(i):
        return wait.until(EC.presence_of_element_located((By.ID, i)))

    def check(cond, what):
        if not cond:
            shot("failed")
            raise AssertionError(what + " (at " + driver.current_url + ")")

    def image_loaded(img):
        return driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)

    try:
        # Not logged in: the login page.
        driver.get(a.url + "/ui")
        by_id("token")
        check(driver.current_url.endswith("/ui/login"), "a page without a session redirects to the login page")
        shot("login")
        # A wrong token is refused, with why.
        by_id("token").send_keys("not-a-token")
        by_id("login").click()
        check("/ui/login" in driver.current_url and by_id("token") is not None, "a wrong token stays on the login page")
        check(driver.find_elements(By.CLASS_NAME, "error"), "a wrong token says why")
        shot("login-refused")
        by_id("token").send_keys(a.token)
        by_id("login").click()
        table = by_id("datasets")
        check(a.dataset in table.text, "the datasets list names the dataset (escaped, as text): " + table.text)
        check(not driver.find_elements(By.CSS_SELECTOR, "#datasets script"), "no script element from a name")
        shot("datasets")
        cookies = {c["name"]: c for c in driver.get_cookies()}
        check(cookies.get("dlfs_session", {}).get("httpOnly") is True, "the session cookie is HttpOnly")
        check(cookies["dlfs_session"].get("sameSite") == "Strict", "the session cookie is SameSite=Strict")

        # The dataset's root, then the folder.
        driver.find_element(By.LINK_TEXT, a.dataset).click()
        wait.until(EC.element_to_be_clickable((By.PARTIAL_LINK_TEXT, a.folder + "/"))).click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "img[loading=lazy]"))
        shot("folder-grid")
        imgs = driver.find_elements(By.CSS_SELECTOR, ".tile img[loading=lazy]")
        check(len(imgs) >= 1, "the photo shows as a lazy thumbnail")
        wait.until(lambda d: image_loaded(imgs[0]))
        link_tile = [t for t in driver.find_elements(By.CLASS_NAME, "tile") if a.link in t.text]
        check(link_tile and "\U0001F517" in link_tile[0].text, "the link item is marked with a link symbol")
        # A link to an image shows the target's thumbnail (made by the platform from the target).
        image_tile = [t for t in driver.find_elements(By.CLASS_NAME, "tile") if a.image_link in t.text]
        check(image_tile and "\U0001F517" in image_tile[0].text, "the image link is marked with a link symbol")
        link_img = image_tile[0].find_elements(By.TAG_NAME, "img")
        check(link_img, "the image link shows a thumbnail")
        wait.until(lambda d: image_loaded(link_img[0]))
        # The table view.
        by_id("view-table").click()
        rows = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "table tr"))
        check(any(a.photo in r.text and "image/jpeg" in r.text for r in rows), "the table lists the photo's type")
        shot("folder-table")
        # Keyset paging: two items a page; the next-page links reach every item once.
        driver.get(driver.current_url.replace("view=table", "n=2"))
        seen = []
        for _ in range(20):
            seen += [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".tile a:last-child")]
            nxt = driver.find_elements(By.ID, "next-page")
            if not nxt:
                break
            nxt[0].click()
            by_id("nav-datasets")
        check(len(seen) == len(set(seen)) and len(seen) >= 3, "paging shows each item once: %r" % seen)
        check(any(a.photo in s for s in seen) and any(a.link in s for s in seen), "paging reaches every item")
        shot("folder-paged")

        # The photo's page: the image, system metadata.
        driver.find_element(By.ID, "first-page").click()
        wait.until(EC.element_to_be_clickable((By.PARTIAL_LINK_TEXT, a.photo))).click()
        img = by_id("image")
        wait.until(lambda d: image_loaded(img))
        system = by_id("system").text
        check("image/jpeg" in system and "width" in system, "the system metadata table: " + system)
        shot("item")
        # A JSON that is not an object: the platform's validation error, nothing saved.
        box = by_id("metadata")
        box.clear()
        box.send_keys('["not", "an object"]')
        by_id("save").click()
        err = by_id("error").text
        check("metadata.user must be an object" in err, "the API's validation error is shown: " + err)
        shot("metadata-refused")
        box = by_id("metadata")
        box.clear()
        box.send_keys('{"tag": "web", "score": 3}')
        desc = by_id("description")
        desc.clear()
        desc.send_keys("edited in a browser")
        by_id("save").click()
        by_id("saved")
        check('"web"' in by_id("metadata").get_attribute("value"), "the saved metadata is shown")
        shot("metadata-saved")

        # Uploads (server/web/dlfs.js): a file picked, a folder picked, a file dropped, each in
        # parallel parts with progress; then a large file while the browser is offline: it fails,
        # and Resume, back online, sends only the parts the server lacks (the test harness sent
        # part 0 of it beforehand under the key the page uses).
        by_id("folder").click()
        by_id("upload-js")
        check(by_id("drop").is_displayed(), "the script shows the drop zone")

        def uploads_done(n):
            wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "li.upload[data-state=done]")) >= n
                       or d.find_elements(By.CSS_SELECTOR, "li.upload[data-state=failed]"))
            failed = driver.find_elements(By.CSS_SELECTOR, "li.upload[data-state=failed]")
            check(not failed, "uploads failed: " + "; ".join(f.text for f in failed))

        by_id("files").send_keys(os.path.abspath(a.upload))
        by_id("upload").click()
        uploads_done(1)
        by_id("folder-files").send_keys(os.path.abspath(a.upload_dir))
        by_id("upload").click()
        uploads_done(1 + a.upload_dir_files)
        driver.execute_script("""
            const dt = new DataTransfer();
            dt.items.add(new File(["dropped in a browser\\n"], "dropped.txt", {type: "text/plain"}));
            document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true}));""")
        uploads_done(2 + a.upload_dir_files)
        total = by_id("upload-total-text").text
        check("all uploaded" in total, "the overall progress says all are uploaded: " + total)
        shot("uploaded")

        driver.set_network_conditions(offline=True, latency=0, download_throughput=-1, upload_throughput=-1)
        by_id("files").send_keys(os.path.abspath(a.big))
        by_id("upload").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "li.upload[data-state=failed]"))
        resume = by_id("resume-uploads")
        check(resume.is_displayed(), "a failed upload offers Resume")
        shot("upload-failed")
        driver.set_network_conditions(offline=False, latency=0, download_throughput=-1, upload_throughput=-1)
        resume.click()
        uploads_done(3 + a.upload_dir_files)
        big = [r for r in driver.find_elements(By.CSS_SELECTOR, "li.upload")
               if r.get_attribute("data-path").endswith("/" + os.path.basename(a.big))]
        check(big and big[0].get_attribute("data-resumed") == "1",
              "the resumed upload found 1 part on the server: " + (big[0].get_attribute("data-resumed") if big else "no row"))
        shot("upload-resumed")

        def followed(start, box_id, name, shown):
            """Clicks `start`, waits until the job in #box_id ends well, then refreshes the folder
            and waits for `shown` (a link text) in it."""
            by_id(start).click()
            wait.until(lambda d: d.find_element(By.ID, box_id).get_attribute("data-status") in ("success", "failed"))
            box = by_id(box_id)
            check(box.get_attribute("data-status") == "success", name + ": " + box.text)
            shot(name)
            box.find_element(By.CLASS_NAME, "refresh").click()
            wait.until(EC.presence_of_element_located((By.PARTIAL_LINK_TEXT, shown)))

        # A CSV import, followed to its end.
        driver.get(driver.current_url)
        by_id("csv-file").send_keys(os.path.abspath(a.csv))
        followed("csv-import", "csv-progress", "csv-imported", os.path.splitext(os.path.basename(a.csv))[0])

        # A storage driver's dataset: Sync now, followed to its end; the objects are then listed.
        by_id("nav-datasets").click()
        driver.find_element(By.LINK_TEXT, a.sync_dataset).click()
        followed("sync", "sync-progress", "synced", a.sync_object)
        by_id("nav-datasets").click()
        driver.find_element(By.LINK_TEXT, a.dataset).click()

        # DQL search.
        q = by_id("q")
        q.send_keys('{"filter": {"metadata.user.tag": "web"}}')
        by_id("search").click()
        count = by_id("count").text
        check(count.startswith("1 "), "the search finds the edited item: " + count)
        check(driver.find_elements(By.PARTIAL_LINK_TEXT, a.photo), "the search lists the photo")
        shot("search")

        # Log out: the pages need a session again.
        by_id("logout").click()
        by_id("token")
        driver.get(a.url + "/ui")
        by_id("token")
        check(driver.current_url.endswith("/ui/login"), "after logging out, pages redirect to the login page")
        shot("logged-out")
        print("web_ui_browser: all checks held (%d screenshots)" % step[0])
        return 0
    except Exception:  # any failure: say which, with a screenshot
        traceback.print_exc()
        try:
            shot("exception")
        except Exception:
            pass
        return 1
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
