# Read by CTest after playground_test's discovered tests (TEST_INCLUDE_FILES): only the browser
# test needs puppeteer-core, so only it requires the fixture that installs it.
set_tests_properties(PlaygroundBrowserTest.SearchAskCompareAndIngestInChromium
  PROPERTIES FIXTURES_REQUIRED playground_browser)
