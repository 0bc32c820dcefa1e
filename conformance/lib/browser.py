"""Headless Chromium for the suites that drive Ironstone's web pages: Debian's `chromium` and
`chromium-driver` (installed with apt-get when missing and the suite runs as root), driven by
selenium. Never a driver downloaded at run time."""

import os
import shutil
import subprocess

from confkit import CheckError


def ensure_chromium():
    """Debian's chromium and chromium-driver, installed with apt-get when missing (root only)."""
    if shutil.which("chromedriver") and (shutil.which("chromium") or shutil.which("chromium-browser")):
        return
    if os.geteuid() != 0:
        raise CheckError("chromium and chromedriver are missing; install Debian's `chromium` and "
                         "`chromium-driver` packages (apt-get needs root)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (["apt-get", "update", "-q"],
                 ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"]):
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            raise CheckError(f"`{' '.join(argv)}` exited {proc.returncode}: {proc.stderr[-1500:]}")


def start_browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1000,1200", "--no-first-run", "--disable-extensions"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")),
                            options=opts)


def by_id(driver, element_id):
    from selenium.webdriver.common.by import By
    found = driver.find_elements(By.ID, element_id)
    return found[0] if found else None


def page_text(driver):
    from selenium.webdriver.common.by import By
    return driver.find_element(By.TAG_NAME, "body").text


def wait_for_id(driver, element_id, timeout=20):
    """The element once the page that has it loaded; CheckError with the page's text if not."""
    from selenium.webdriver.support.ui import WebDriverWait
    try:
        return WebDriverWait(driver, timeout).until(lambda d: by_id(d, element_id))
    except Exception as exc:  # noqa: BLE001 - re-raised with what the page says
        raise CheckError(f"#{element_id} did not appear; the page says: {page_text(driver)[:600]}") from exc
