<?xml version="1.0" encoding="UTF-8"?>
<!-- Maps one MARCXML record to Zebra index terms. The index names are the ones cql2pqf.txt
     points CQL indexes at; the suffix picks the index type in catalog.idx (w words, p phrase,
     0 exact key, s sort). -->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:marc="http://www.loc.gov/MARC21/slim"
    xmlns:z="http://indexdata.com/zebra-2.0">
  <xsl:output method="xml" encoding="UTF-8" indent="yes"/>

  <xsl:template match="text()"/>

  <xsl:template match="/marc:record">
    <xsl:variable name="id" select="normalize-space(marc:controlfield[@tag='001'])"/>
    <xsl:variable name="f008" select="marc:controlfield[@tag='008']"/>
    <!-- leader/05 'd' marks a deleted record: Zebra then drops it instead of storing it -->
    <xsl:variable name="type">
      <xsl:choose>
        <xsl:when test="substring(marc:leader, 6, 1) = 'd'">delete</xsl:when>
        <xsl:otherwise>update</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <z:record z:id="{$id}" type="{$type}">
      <z:index name="id:0 Local-number:0 id:w">
        <xsl:value-of select="$id"/>
      </z:index>

      <xsl:for-each select="marc:datafield[@tag='245']">
        <z:index name="title:w title:p any:w">
          <xsl:for-each select="marc:subfield[@code='a' or @code='b' or @code='n' or @code='p']">
            <xsl:if test="position() &gt; 1">
              <xsl:text> </xsl:text>
            </xsl:if>
            <xsl:value-of select="."/>
          </xsl:for-each>
        </z:index>
        <z:index name="title:s">
          <xsl:value-of select="marc:subfield[@code='a']"/>
        </z:index>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[@tag='246' or @tag='240' or @tag='440' or @tag='490']/marc:subfield[@code='a']">
        <z:index name="title:w any:w">
          <xsl:value-of select="."/>
        </z:index>
      </xsl:for-each>

      <xsl:for-each select="marc:datafield[@tag='100' or @tag='110' or @tag='111' or @tag='700' or @tag='710' or @tag='711']">
        <z:index name="author:w author:p any:w">
          <xsl:value-of select="marc:subfield[@code='a']"/>
          <xsl:for-each select="marc:subfield[@code='b']">
            <xsl:text> </xsl:text>
            <xsl:value-of select="."/>
          </xsl:for-each>
        </z:index>
      </xsl:for-each>

      <xsl:for-each select="marc:datafield[@tag='020']/marc:subfield[@code='a']">
        <xsl:call-template name="isbn">
          <xsl:with-param name="text" select="normalize-space(.)"/>
        </xsl:call-template>
      </xsl:for-each>

      <xsl:for-each select="marc:datafield[@tag='650' or @tag='651' or @tag='600' or @tag='610']">
        <z:index name="subject:w subject:p any:w">
          <xsl:for-each select="marc:subfield[@code='a' or @code='x' or @code='y' or @code='z']">
            <xsl:if test="position() &gt; 1">
              <xsl:text> -- </xsl:text>
            </xsl:if>
            <xsl:value-of select="."/>
          </xsl:for-each>
        </z:index>
      </xsl:for-each>

      <xsl:for-each select="marc:datafield[@tag='260' or @tag='264']/marc:subfield[@code='b']">
        <z:index name="publisher:w any:w">
          <xsl:value-of select="."/>
        </z:index>
      </xsl:for-each>

      <!-- year: 008/07-10 when it is four digits, else whatever 260/264 $c says -->
      <xsl:choose>
        <xsl:when test="string-length(translate(substring($f008, 8, 4), '0123456789', '')) = 0
                        and string-length(substring($f008, 8, 4)) = 4">
          <z:index name="date:w">
            <xsl:value-of select="substring($f008, 8, 4)"/>
          </z:index>
        </xsl:when>
        <xsl:otherwise>
          <xsl:for-each select="marc:datafield[@tag='260' or @tag='264']/marc:subfield[@code='c']">
            <z:index name="date:w">
              <xsl:value-of select="."/>
            </z:index>
          </xsl:for-each>
        </xsl:otherwise>
      </xsl:choose>

      <xsl:for-each select="marc:datafield[@tag='082' or @tag='090']/marc:subfield[@code='a']">
        <z:index name="classification:w">
          <xsl:value-of select="translate(., '/', '')"/>
        </z:index>
      </xsl:for-each>

      <z:index name="language:w">
        <xsl:value-of select="substring($f008, 36, 3)"/>
      </z:index>
      <xsl:for-each select="marc:datafield[@tag='041']/marc:subfield[@code='a']">
        <z:index name="language:w">
          <xsl:value-of select="."/>
        </z:index>
      </xsl:for-each>

      <!-- links, among them the ones back to exhibits: searchable by their exact URL -->
      <xsl:for-each select="marc:datafield[@tag='856']/marc:subfield[@code='u']">
        <z:index name="url:0">
          <xsl:value-of select="normalize-space(.)"/>
        </z:index>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[@tag='856']/marc:subfield[@code='y' or @code='z' or @code='3']">
        <z:index name="any:w">
          <xsl:value-of select="."/>
        </z:index>
      </xsl:for-each>
    </z:record>
  </xsl:template>

  <!-- ISBNs are indexed as bare digits (hyphens would split them into words), in the form
       written and, for an ISBN-10, also as the ISBN-13 it stands for, so either finds it. -->
  <xsl:template name="isbn">
    <xsl:param name="text"/>
    <xsl:variable name="first">
      <xsl:choose>
        <xsl:when test="contains($text, ' ')">
          <xsl:value-of select="substring-before($text, ' ')"/>
        </xsl:when>
        <xsl:otherwise>
          <xsl:value-of select="$text"/>
        </xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="digits" select="translate(translate($first, '-', ''), 'x', 'X')"/>
    <xsl:if test="string-length($digits) = 10 or string-length($digits) = 13">
      <z:index name="isbn:0 isbn:w">
        <xsl:value-of select="$digits"/>
      </z:index>
    </xsl:if>
    <xsl:if test="string-length($digits) = 10">
      <xsl:variable name="core" select="concat('978', substring($digits, 1, 9))"/>
      <xsl:variable name="sum"
          select="substring($core, 1, 1) + 3 * substring($core, 2, 1)
                + substring($core, 3, 1) + 3 * substring($core, 4, 1)
                + substring($core, 5, 1) + 3 * substring($core, 6, 1)
                + substring($core, 7, 1) + 3 * substring($core, 8, 1)
                + substring($core, 9, 1) + 3 * substring($core, 10, 1)
                + substring($core, 11, 1) + 3 * substring($core, 12, 1)"/>
      <z:index name="isbn:0 isbn:w">
        <xsl:value-of select="concat($core, (10 - $sum mod 10) mod 10)"/>
      </z:index>
    </xsl:if>
  </xsl:template>
</xsl:stylesheet>
